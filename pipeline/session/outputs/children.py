"""The children file ``{study}_all-children[-identifiable].csv`` (one row per child) and
its dictionary ``{study}_all-children-dict.csv``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.session.dictionaries import dictionary_csv
from pipeline.session.outputs.common import Table, TableFiles, ages_at
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record

#: The children file's columns before the selected identifying ones.
CHILD_FIXED = [
    "participant__hashed_id",
    "child__hashed_id",
    "child__age_rounded",
    "child__gender",
    "child__age_at_birth",
    "child__language_list",
    "child__condition_list",
]


def children_table(
    records: Sequence[Record], settings: StudySettings
) -> tuple[list[str], list[list[Any]]]:
    """One row per child, sorted by hashed ID: the platform's child columns (identifying
    ones only when selected); the profile of the child's newest response, the ages at its
    first response."""
    first: dict[str, Record] = {}
    latest: dict[str, Record] = {}
    for record in records:  # sorted by time
        first.setdefault(record["child"]["global_id"], record)
        latest[record["child"]["global_id"]] = record
    columns = [*CHILD_FIXED, *settings.identifying]
    rows = []
    for gid, record in latest.items():
        child, participant = record["child"], record["participant"]
        days, rounded = ages_at(child["birthday"], first[gid]["response"]["date_created"])
        values = {f"child__{k}": v for k, v in child.items()}
        values.update(
            {
                "child__hashed_id": settings.hashed(gid),
                "child__age_in_days": days,
                "child__age_rounded": rounded,
                "participant__hashed_id": settings.hashed(participant["global_id"]),
                "participant__global_id": participant["global_id"],
                "participant__nickname": participant["nickname"],
            }
        )
        rows.append(([values[c] for c in columns], values["child__hashed_id"], gid))
    rows.sort(key=lambda r: (r[1], r[2]))
    return columns, [r[0] for r in rows]


def children_files(records: Sequence[Record], settings: StudySettings) -> TableFiles:
    """The children CSV and its dictionary (roles ``children_csv``, ``children_dict``)."""
    table = Table.write(*children_table(records, settings))
    return TableFiles(
        table, {"children_csv": table.data, "children_dict": dictionary_csv(table.columns)}
    )
