"""The response overview ``{study}_all-responses[-identifiable].csv`` (one row per
response) and its dictionary ``{study}_all-responses-dict.csv``.

The platform's layout: its own columns in its order (every response column but the last
two, without the optional ones not chosen; ``response__eligibility``,
``response__sequence`` and ``response__conditions`` stay empty when they hold lists),
then every other column met in the rows, in text order: the flattened
``response__conditions.0.*``, ``response__eligibility.0``…, the session status, the star,
``response__sequence.N`` (``.10`` before ``.2``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.session.dictionaries import dictionary_csv
from pipeline.session.outputs.common import Table, TableFiles, flatten
from pipeline.session.outputs.response_fields import (
    PLACED,
    RESPONSE_COLUMNS,
    placed_columns,
    response_values,
)
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record, Ruling


def overview_header(rows: Sequence[Mapping[str, Any]], settings: StudySettings) -> list[str]:
    """The overview's columns: the platform's own (:func:`placed_columns`), then every other
    column of ``rows`` in text order."""
    placed = placed_columns(settings)
    extra = {c for row in rows for c in row} - set(placed)  # no row holds an unchosen one
    return [*placed, *sorted(extra)]


def dictionary_columns(settings: StudySettings) -> list[str]:
    """The columns the overview's dictionary describes, as the platform lists them: its own
    columns, then the other response columns in text order (flattened ones are described
    by their base column)."""
    rest = sorted(set(RESPONSE_COLUMNS) - set(PLACED))  # the researcher fields
    return [*placed_columns(settings), *rest]


def responses_table(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows (column → value, flattened) of the response overview, one row per
    response in the order of ``records``."""
    rows = [
        flatten(response_values(r, settings, rulings.get(r["response"]["uuid"]))) for r in records
    ]
    return overview_header(rows, settings), rows


def overview_files(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> TableFiles:
    """The overview CSV and its dictionary (roles ``responses_csv``, ``responses_dict``);
    a column a row lacks is an empty text cell."""
    columns, rows = responses_table(records, settings, rulings)
    table = Table.write(columns, ([r.get(c, "") for c in columns] for r in rows))
    return TableFiles(
        table,
        {
            "responses_csv": table.data,
            "responses_dict": dictionary_csv(dictionary_columns(settings)),
        },
    )
