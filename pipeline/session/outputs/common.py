"""Helpers shared by the output builders: the written table, flattening and canonical
order of values, birth-date removal, ages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.session.ages import age_in_days, round_age
from pipeline.session.formats import to_csv
from pipeline.session.records import natural_key

#: Key never written to frame data / JSON, anywhere in exp_data (the exit survey asks for
#: the child's birth date again).
DROP_LEAF = "birthDate"


@dataclass(frozen=True)
class Table:
    """A written CSV table: its columns and its bytes (the Psych-DS dataset reuses both)."""

    columns: list[str]
    data: bytes

    @classmethod
    def write(cls, columns: list[str], rows: Iterable[Sequence[Any]]) -> Table:
        """The table of ``rows`` under ``columns`` (:func:`pipeline.session.formats.to_csv`)."""
        return cls(columns, to_csv(columns, rows))


@dataclass(frozen=True)
class TableFiles:
    """The published files of one table family, by role (:func:`.settings.output_names`),
    in publication order, and the table itself."""

    table: Table
    files: dict[str, bytes]


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested objects/arrays into ``(path, scalar)`` pairs, path parts joined by
    ``.`` (array items by index). Empty objects and arrays give nothing."""
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            pairs.extend(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    if isinstance(value, list):
        pairs = []
        for index, item in enumerate(value):
            pairs.extend(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return pairs
    return [(prefix, value)]


def canonical(value: Any) -> Any:
    """A copy with object keys in natural order (stable JSON whatever the input order)."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value, key=natural_key)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def drop_birthdates(value: Any) -> Any:
    """A copy without any :data:`DROP_LEAF` key, at any depth."""
    if isinstance(value, dict):
        return {k: drop_birthdates(v) for k, v in value.items() if k != DROP_LEAF}
    if isinstance(value, list):
        return [drop_birthdates(v) for v in value]
    return value


def ages_at(birthday: Any, when: str) -> tuple[int | None, int | None]:
    """Exact and rounded age in days at the UTC date of ``when`` (None without a birthday)."""
    if birthday in (None, ""):
        return None, None
    days = age_in_days(when, birthday)
    return days, round_age(days)
