"""The response overview ``{study}_all-responses[-identifiable].csv`` (one row per
response) and its dictionary ``{study}_all-responses-dict.csv``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.session.dictionaries import dictionary_csv
from pipeline.session.formats import cell
from pipeline.session.outputs.common import Table, TableFiles, flatten
from pipeline.session.outputs.response_fields import response_sections
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record, Ruling, natural_key

#: The overview's columns before the selected identifying ones (SPEC §4.3).
OVERVIEW_FIXED = [
    "response__id",
    "response__uuid",
    "response__date_created",
    "response__completed",
    "response__withdrawn",
    "response__eligibility",
    "response__parent_feedback",
    "response__birthdate_difference",
    "response__video_privacy",
    "response__databrary",
    "response__is_preview",
    "consent__ruling",
    "consent__arbiter",
    "consent__time",
    "consent__comment",
    "study__uuid",
    "participant__hashed_id",
    "child__hashed_id",
    "child__age_rounded",
    "child__gender",
    "child__age_at_birth",
    "child__language_list",
    "child__condition_list",
]
#: The overview's last columns, after the flattened sequence and conditions.
RESEARCHER_FIELDS = [
    "response__researcher_payment_status",
    "response__researcher_session_status",
    "response__researcher_star",
]
#: Lists written in one cell, items separated by spaces (as the platform's dictionary says).
SPACE_SEPARATED = ("response__eligibility",)


def _overview_row(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for section, values in sections.items():
        for key, value in values.items():
            column = f"{section}__{key}"
            if column in SPACE_SEPARATED and isinstance(value, list):
                row[column] = " ".join(cell(v) for v in value)
            elif isinstance(value, dict | list):
                row.update(flatten(value, column))
            else:
                row[column] = value
    return row


def responses_table(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the response overview (one row per response): the fixed
    columns, the selected identifying ones, the flattened ``response__sequence.N`` and
    ``response__conditions.N.*`` (natural order), then the researcher fields."""
    rows = []
    for record in records:
        sections = response_sections(record, settings, rulings.get(record["response"]["uuid"]))
        row = _overview_row(sections)
        rows.append({k: v for k, v in row.items() if settings.allows(k)})
    present = {c for row in rows for c in row}
    seq = sorted((c for c in present if c.startswith("response__sequence.")), key=natural_key)
    cond = sorted((c for c in present if c.startswith("response__conditions.")), key=natural_key)
    columns = [*OVERVIEW_FIXED, *settings.identifying, *seq, *cond, *RESEARCHER_FIELDS]
    return columns, rows


def overview_files(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> TableFiles:
    """The overview CSV and its dictionary (roles ``responses_csv``, ``responses_dict``)."""
    columns, rows = responses_table(records, settings, rulings)
    table = Table.write(columns, ([r.get(c) for c in columns] for r in rows))
    return TableFiles(
        table, {"responses_csv": table.data, "responses_dict": dictionary_csv(columns)}
    )
