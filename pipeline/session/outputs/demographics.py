"""The demographic snapshots (one per response): ``{study}_all-demographic-snapshots.csv``,
the same as JSON, and their dictionary ``{study}_all-demographic-snapshots-dict.csv``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.session.ages import age_in_days, parse_timestamp, round_age
from pipeline.session.dictionaries import DEMOGRAPHIC_DESCRIPTIONS, dictionary_csv
from pipeline.session.formats import platform_datetime, platform_json
from pipeline.session.outputs.common import Table, TableFiles
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record

DEMOGRAPHIC_FIELDS = [
    "hashed_id",
    "date_created",
    "number_of_children",
    "child_rounded_ages",
    "number_of_guardians",
    "us_race_ethnicity_identification",
    "parent_age",
    "parent_gender",
    "education_level",
    "annual_income",
    "additional_comments",
    "country",
    "state",
    "density",
    "lookit_referrer",
]
DEMOGRAPHIC_COLUMNS = [
    "response__uuid",
    "participant__hashed_id",
    *(f"demographic__{k}" for k in DEMOGRAPHIC_FIELDS),
]


def _rounded_ages(birthdays: Any, when: str) -> list[int | None]:
    """Rounded ages at the UTC date of ``when`` of the birthdays given in a demographic
    snapshot; a birthday that is not a date gives None."""
    ages: list[int | None] = []
    for birthday in birthdays if isinstance(birthdays, list) else [birthdays]:
        try:
            ages.append(round_age(age_in_days(when, birthday)))
        except (TypeError, ValueError):
            ages.append(None)
    return ages


def _demographic(record: Record, settings: StudySettings) -> dict[str, Any]:
    """The snapshot's published fields (JSON values); every field empty without one."""
    snap = record["demographic"]
    if snap is None:
        return {k: None for k in DEMOGRAPHIC_FIELDS} | {"hashed_id": ""}
    values: dict[str, Any] = {k: snap.get(k) for k in DEMOGRAPHIC_FIELDS}
    values["hashed_id"] = settings.hashed(snap["uuid"])
    if snap.get("date_created"):
        try:
            values["date_created"] = platform_datetime(parse_timestamp(snap["date_created"]))
        except (TypeError, ValueError):
            pass
    # at the response's date, as the platform computes them (not the snapshot's)
    birthdays = snap.get("child_birthdays")
    values["child_rounded_ages"] = (
        None if birthdays is None else _rounded_ages(birthdays, record["response"]["date_created"])
    )
    race = values["us_race_ethnicity_identification"]
    if not isinstance(race, list):
        values["us_race_ethnicity_identification"] = [] if race in (None, "") else [race]
    return values


def demographics(
    records: Sequence[Record], settings: StudySettings
) -> tuple[list[str], list[list[Any]], list[dict[str, Any]]]:
    """Columns, CSV rows and JSON records of the demographic snapshots (one per response,
    in the order of ``records``); lists stay in one cell (``[1770]``, ``['white', 'hisp']``)."""
    rows, nested = [], []
    for record in records:
        values = _demographic(record, settings)
        participant = settings.hashed(record["participant"]["global_id"])
        nested.append(
            {
                "response": {"uuid": record["response"]["uuid"]},
                "participant": {"hashed_id": participant},
                "demographic": values,
            }
        )
        rows.append([record["response"]["uuid"], participant, *values.values()])
    return list(DEMOGRAPHIC_COLUMNS), rows, nested


def demographic_files(records: Sequence[Record], settings: StudySettings) -> TableFiles:
    """The snapshots' CSV, JSON and dictionary (roles ``demographics_csv``,
    ``demographics_json``, ``demographics_dict``)."""
    columns, rows, nested = demographics(records, settings)
    table = Table.write(columns, rows)
    return TableFiles(
        table,
        {
            "demographics_csv": table.data,
            "demographics_json": platform_json(nested),
            "demographics_dict": dictionary_csv(columns, DEMOGRAPHIC_DESCRIPTIONS),
        },
    )
