"""Helpers shared by the output builders: the written table, flattening as the platform
flattens, the platform's row order, birth-date removal, ages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.session.ages import age_in_days, round_age
from pipeline.session.formats import platform_csv
from pipeline.session.records import Record

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
        """The table of ``rows`` under ``columns``, written as the platform writes its CSVs
        (:func:`pipeline.session.formats.platform_csv`)."""
        return cls(columns, platform_csv(columns, rows))


@dataclass(frozen=True)
class TableFiles:
    """The published files of one table family, by role (:func:`.settings.output_names`),
    in publication order, and the table itself."""

    table: Table
    files: dict[str, bytes]


def flatten(values: Mapping[Any, Any]) -> dict[str, Any]:
    """Nested objects and arrays flattened as the platform flattens them: keys joined by
    ``.`` (array items by index, from 0), in the order met; an empty object or array gives
    no key at all; when two paths spell the same key, the later value wins at the earlier
    place."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, list):
            value = dict(enumerate(value))
        if isinstance(value, dict):
            for sub, item in flatten(value).items():
                flat[f"{key}.{sub}"] = item
        else:
            flat[str(key)] = value
    return flat


def response_order(record: Record) -> tuple:
    """Row order of every per-response file: by ``response.id`` as a number (the platform
    orders by it); ids that are not numbers after those, then the response UUID."""
    rid, uid = record["response"]["id"], record["response"]["uuid"]
    if isinstance(rid, bool) or rid is None:
        return (2, 0, "", uid)
    if isinstance(rid, int):
        return (0, rid, "", uid)
    text = str(rid).strip()
    if text.isascii() and text.isdigit():  # not '²': int() would refuse it
        return (0, int(text), "", uid)
    return (1, 0, text, uid)


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
