"""Typed Parquet copies of the published days (SPEC §3.6 "Typed copies for modern readers").

``parquet/day=YYYY-MM-DD/part-{key}.parquet`` holds the newest published version of each
day, one file and one row group per day, typed from the codebook (:mod:`pipeline.panel.
codebook`): ZIP codes and multi-select answers as text, numeric items as doubles, codes and
``wave`` as integers, times as zone-aware timestamps. DuckDB, ``pyarrow.dataset``,
``polars.scan_parquet`` and R's ``arrow::open_dataset`` read the folder with no options
(the ``day=`` folders are Hive partitions they add as a ``day`` column).

A copy is made from the day's published CSV bytes, so it holds the same rows and values
(``NA`` is null). Its name is a hash of those bytes, of the types, of
:data:`PARQUET_VERSION` and of pyarrow's version (the writer's name is in the file): a day
is written again only when one of them changes, a published name never gets other bytes, and the superseded copy goes after the
run's commit. Times written in a zone's repeated hour (the autumn change) are read as the
earlier of the two instants.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Mapping
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.context import RunContext
from pipeline.numbers import NUMBER
from pipeline.panel import codebook, names
from pipeline.publishing import Publisher

log = logging.getLogger(__name__)

# Bump when the same CSV and types give other Parquet bytes (writer settings): every day's
# copy is written again under a new name.
PARQUET_VERSION = 1
# zstd level 3 (pyarrow's default level): see bench/README.md, "Parquet copies".
COMPRESSION = "zstd"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def copy_name(day: str, csv_sha: str, types: Mapping[str, str]) -> str:
    """The Parquet copy's name for a day whose published CSV has SHA-256 ``csv_sha``."""
    # the writer's version is part of the bytes (created_by): an upgrade gives new names
    doc = json.dumps([PARQUET_VERSION, pa.__version__, csv_sha, sorted(types.items())])
    key = hashlib.sha256(doc.encode()).hexdigest()[:16]
    return names.parquet(date.fromisoformat(day), key)


def schema(columns: list[str], types: Mapping[str, str]) -> pa.Schema:
    """The Arrow schema of a day's copy: each column's codebook type (text when unknown)."""
    return pa.schema(
        [pa.field(c, codebook.arrow_type(types.get(c, codebook.TEXT))) for c in columns]
    )


def _typed(values: pa.Array, typ: pa.DataType) -> tuple[pa.Array, int]:
    """Published text → ``typ``, and how many values did not parse (null in the copy).

    The published CSV's rules make every value of a numeric item a number; codes of
    single-choice questions are whole numbers in the survey's exports, but an export with
    labels instead of codes must not stop a night: such cells are counted (the run's
    manifest, ``parquet_cells_not_typed``) and left null in the copy, never quoted."""
    if pa.types.is_string(typ):
        return values, 0
    if pa.types.is_timestamp(typ):
        local = pc.strptime(values, format=TIME_FORMAT, unit="s", error_is_null=True)
        zoned = pc.assume_timezone(local, typ.tz, ambiguous="earliest", nonexistent="earliest")
        return zoned.cast(typ), zoned.null_count - values.null_count
    try:  # the published values parse (the rules formatted them): one cast
        typed = values.cast(pa.float64())
    except pa.ArrowInvalid:  # not all of them: those that are numbers, the rest null
        numbers = pc.if_else(pc.match_substring_regex(values, NUMBER), values, None)
        typed = pc.utf8_trim_whitespace(numbers).cast(pa.float64())
    typed = pc.if_else(pc.is_finite(typed), typed, None)  # "nan", "inf" are text here
    if pa.types.is_integer(typ):  # "3.0" is a whole number too; so large it is not exact
        fits = pc.and_(pc.equal(pc.floor(typed), typed), pc.less_equal(pc.abs(typed), 2.0**53))
        typed = pc.if_else(fits, typed, None).cast(typ)
    return typed, typed.null_count - values.null_count


def day_table(csv: bytes, types: Mapping[str, str]) -> tuple[pa.Table, int]:
    """A published day file's bytes (plain CSV) as a typed table, and how many cells did
    not parse as their column's type (see :func:`_typed`)."""
    header = csv[: csv.index(b"\n")].decode("utf-8")
    columns = pacsv.read_csv(io.BytesIO(header.encode() + b"\n")).column_names
    text = pacsv.read_csv(
        io.BytesIO(csv),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            null_values=["NA"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    target = schema(columns, types)
    arrays, untyped = [], 0
    for f in target:
        typed, bad = _typed(text.column(f.name).combine_chunks(), f.type)
        arrays.append(typed)
        untyped += bad
    return pa.Table.from_arrays(arrays, schema=target), untyped


def to_bytes(table: pa.Table) -> bytes:
    """One Parquet file, one row group."""
    out = io.BytesIO()
    pq.write_table(
        table, out, compression=COMPRESSION, row_group_size=max(table.num_rows, 1),
        write_statistics=True,
    )  # fmt: skip
    return out.getvalue()


def publish_days(
    ctx: RunContext, pub: Publisher, members: Mapping[str, str], types: Mapping[str, str]
) -> int:
    """Bring ``parquet/`` in line with the published days (``members``: day → SHA-256 of
    its newest CSV): a copy for each day whose content or types changed, the superseded
    copies withdrawn. Returns the cells of the copies written that did not parse."""
    have: dict[str, list[str]] = {}
    for name, row in pub.current.items():
        if row["kind"] == "parquet" and row.get("day"):
            have.setdefault(row["day"], []).append(name)
    untyped = 0
    for day, sha in sorted(members.items()):
        want = copy_name(day, sha, types)
        if want not in have.get(day, []):
            table, bad = day_table(ctx.cached_csv(sha), types)
            untyped += bad
            pub.write(want, to_bytes(table), "parquet", day)
        for old in have.get(day, []):
            if old != want:
                pub.remove(old)
    if untyped:
        log.warning("%d cell(s) of typed columns did not parse: null in the Parquet copies",
                    untyped)  # fmt: skip
    return untyped
