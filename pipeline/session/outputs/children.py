"""The children file ``{study}_all-children[-identifiable].csv`` and its dictionary
``{study}_all-children-dict.csv``.

The platform's layout: the overview's own columns (26 by default: the response, consent
and study columns, the child and participant ones, ``response__sequence``,
``response__conditions`` and the payment status), one row per child in order of first
appearance, holding the values of the child's first response; list values (eligibility,
sequence, conditions) are not spread over extra columns, so their cells stay empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.session.dictionaries import dictionary_csv
from pipeline.session.outputs.common import Table, TableFiles, flatten
from pipeline.session.outputs.response_fields import (
    CHILD_COLUMNS,
    placed_columns,
    response_values,
)
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record, Ruling


def children_table(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the children file: the first response (in the order of
    ``records``) of each child, told apart by hashed ID as the platform does."""
    columns = placed_columns(settings)
    seen: set[str] = set()
    rows = []
    for record in records:
        hashed = settings.hashed(record["child"]["global_id"])
        if hashed in seen:
            continue
        seen.add(hashed)
        values = response_values(record, settings, rulings.get(record["response"]["uuid"]))
        row = flatten(values)
        rows.append([row.get(c, "") for c in columns])
    return columns, rows


def children_files(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> TableFiles:
    """The children CSV and its dictionary (roles ``children_csv``, ``children_dict``)."""
    table = Table.write(*children_table(records, settings, rulings))
    return TableFiles(
        table,
        {
            "children_csv": table.data,
            # as the platform lists them: every child and participant column, chosen or not
            "children_dict": dictionary_csv(CHILD_COLUMNS),
        },
    )
