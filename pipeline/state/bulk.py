"""Large writes: many rows (a first run's million ledger rows) into the state database.

PostgreSQL: ``COPY`` of Arrow-written CSV into a temporary table, then one upsert
(:func:`copy_postgres`). SQLite: the Arrow ADBC driver writes the rows into a scratch
SQLite file (:func:`stage_sqlite`), which the run's transaction attaches and copies with
one ``INSERT OR REPLACE ... SELECT`` (:func:`copy_sqlite_sql`). Both run outside the GIL:
binding a million rows through ``sqlite3``'s ``executemany`` took 8.8 s against 2.2 + 2.3 s
this way, and its per-row GIL hand-off slowed the publishing threads beside it
(``bench/bench_ledger_write.py``). Small writes bind their rows directly, from Python values
made by :func:`python_values`.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipeline.state.errors import statement_error

COPY_BLOCK = 1 << 20  # bytes of CSV per write to a COPY


def copy_postgres(dbapi_conn: Any, target: str, key: str, rows: pa.Table) -> None:
    """Upsert many rows into PostgreSQL table ``target`` inside the caller's transaction
    (``dbapi_conn``: psycopg 3): ``COPY`` (CSV written by Arrow) into a temporary table,
    then one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``. The values travel as COPY
    data, never in a statement's text."""
    import psycopg

    names = rows.column_names
    cols = ", ".join(_quote(n) for n in names)
    update = ", ".join(f"{_quote(n)} = excluded.{_quote(n)}" for n in names if n != key)
    sink = pa.BufferOutputStream()
    # every value quoted, nulls bare: PostgreSQL's CSV reads "" as '' and nothing as NULL
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    pacsv.write_csv(rows, sink, options)
    data = memoryview(sink.getvalue())
    copy = f"COPY _bulk_rows ({cols}) FROM STDIN WITH (FORMAT csv)"
    statements = [
        "DROP TABLE IF EXISTS _bulk_rows",
        f"CREATE TEMP TABLE _bulk_rows (LIKE {_quote(target)} INCLUDING DEFAULTS) ON COMMIT DROP",
        copy,
        f"INSERT INTO {_quote(target)} ({cols}) SELECT {cols} FROM _bulk_rows "
        f"ON CONFLICT ({_quote(key)}) DO UPDATE SET {update}",
        "DROP TABLE _bulk_rows",
    ]
    with dbapi_conn.cursor() as cur:
        for sql in statements:
            try:
                if sql is not copy:
                    cur.execute(sql)
                    continue
                with cur.copy(sql) as out:
                    for start in range(0, len(data), COPY_BLOCK):
                        out.write(data[start : start + COPY_BLOCK])
            except psycopg.Error as exc:
                raise statement_error(sql, exc, psycopg.Error) from exc


def stage_sqlite(rows: pa.Table, path: str, table: str = "rows") -> None:
    """Write ``rows`` as table ``table`` of a new SQLite file at ``path`` (ADBC bulk ingest)."""
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(path) as conn:
        with conn.cursor() as cur:
            cur.adbc_ingest(table, rows, mode="create")
        conn.commit()


def sqlite_tables(path: str) -> dict[str, list[str]]:
    """The tables of a staging file made by :func:`stage_sqlite`, with their columns."""
    with closing(sqlite3.connect(path)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: [r[1] for r in conn.execute(f"PRAGMA table_info({_quote(n)})")] for n in names}


def copy_sqlite_sql(target: str, schema: str, names: list[str], table: str = "rows") -> str:
    """The statement that upserts the rows staged by :func:`stage_sqlite` (attached as
    ``schema``) into ``target``."""
    cols = ", ".join(_quote(n) for n in names)
    return (
        f"INSERT OR REPLACE INTO {_quote(target)} ({cols}) "
        f"SELECT {cols} FROM {_quote(schema)}.{_quote(table)}"
    )


def key_sorted(rows: pa.Table, key: str) -> pa.Table:
    """``rows`` in the byte order of their ``key`` column: written in that order, a B-tree
    appends instead of splitting pages."""
    order = _same_width_order(rows.column(key))
    if order is None:
        order = pc.sort_indices(rows, sort_keys=[(key, "ascending")])
    return rows.take(order)


def _same_width_order(column: pa.ChunkedArray) -> pa.Array | None:
    """The sorting permutation of a string column whose values all have the same byte
    length (tokens, response ids), by NumPy over the values' bytes; None for any other
    column. Arrow's string sort took 1.25 s for a million 17-byte tokens, NumPy 0.33 s."""
    values = column.combine_chunks()
    if not pa.types.is_string(values.type) or values.null_count or not len(values):
        return None
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], np.int32, count=n + 1, offset=values.offset * 4)
    width = int(offsets[1] - offsets[0])
    if width == 0 or offsets[-1] - offsets[0] != n * width or (np.diff(offsets) != width).any():
        return None
    data = np.frombuffer(values.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    return pa.array(np.argsort(data.view(f"S{width}"), kind="stable"))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def python_values(values: pa.ChunkedArray | pa.Array) -> list[Any]:
    """Column values as Python objects (None for nulls), through NumPy where that is exact."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        coded = pc.dictionary_encode(_combined(values))
        if len(coded.dictionary) * 4 < len(coded):  # days, reasons: one str per value
            words = np.array([*coded.dictionary.to_pylist(), None], dtype=object)
            codes = pc.fill_null(coded.indices, len(coded.dictionary)).to_numpy()
            return words[codes].tolist()
        return values.to_numpy(zero_copy_only=False).tolist()  # object array, None for null
    if values.null_count == 0 and (
        pa.types.is_integer(values.type) or pa.types.is_boolean(values.type)
    ):
        return values.to_numpy(zero_copy_only=False).tolist()
    return values.to_pylist()


def _combined(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
