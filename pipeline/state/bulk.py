"""Bulk writes of many ledger rows (a first run's million) without Python-level binding.

PostgreSQL: ``COPY`` of Arrow-written CSV into a temporary table, then one upsert
(:func:`copy_postgres`). SQLite, described below: a worker process stages the rows.

Binding a million rows through ``executemany`` costs seconds of GIL-held Python work in the
process that publishes files at the same time. Instead, a worker process
(:mod:`pipeline.worker`) writes the rows into a scratch SQLite file, and the run's commit
copies them with one ``INSERT OR REPLACE ... SELECT`` from the attached file: SQLite's own
C code, inside the run's transaction, with the GIL released.

The scratch file is derived data: it is removed after the commit, and a crash leaves only
a stray file in a temporary folder next to the database.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather

STAGED_TABLE = "rows"
BATCH = 50_000


def ready() -> bool:
    """Nothing to do: a run calls this early so the worker has started and imported this
    module (pyarrow, sqlite3) before the commit needs it."""
    return True


def stage_rows(arrow_path: str, db_path: str) -> int:
    """Write the rows of an Arrow IPC file into a new SQLite file (table ``rows``, same
    column names, rowid order = file order); returns the row count. Runs in a worker."""
    table = feather.read_table(arrow_path, memory_map=True)
    names = table.column_names
    Path(db_path).unlink(missing_ok=True)
    con = sqlite3.connect(db_path)
    try:
        con.execute("PRAGMA journal_mode=OFF")  # scratch data: no journal, no fsync
        con.execute("PRAGMA synchronous=OFF")
        con.execute(f"CREATE TABLE {STAGED_TABLE} ({', '.join(_quote(n) for n in names)})")
        sql = f"INSERT INTO {STAGED_TABLE} VALUES ({', '.join('?' for _ in names)})"
        for batch in table.to_batches(BATCH):
            cols = [python_values(batch.column(i)) for i in range(batch.num_columns)]
            con.executemany(sql, zip(*cols, strict=True))
        con.commit()
    finally:
        con.close()
    return table.num_rows


def copy_sql(target: str, schema: str, names: list[str]) -> str:
    """The statement that upserts the staged rows of attached ``schema`` into ``target``."""
    cols = ", ".join(_quote(n) for n in names)
    return (
        f"INSERT OR REPLACE INTO {_quote(target)} ({cols}) "
        f"SELECT {cols} FROM {schema}.{STAGED_TABLE} ORDER BY rowid"
    )


def copy_postgres(dbapi_conn: Any, target: str, key: str, rows: pa.Table) -> None:
    """Upsert many rows into PostgreSQL table ``target`` inside the caller's transaction:
    ``COPY`` (CSV written by Arrow) into a temporary table, then one
    ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``."""
    names = rows.column_names
    cols = ", ".join(_quote(n) for n in names)
    update = ", ".join(f"{_quote(n)} = excluded.{_quote(n)}" for n in names if n != key)
    data = io.BytesIO()
    # every value quoted, nulls bare: PostgreSQL's CSV reads "" as '' and nothing as NULL
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    pacsv.write_csv(rows, data, options)
    data.seek(0)
    with dbapi_conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS _bulk_rows")
        cur.execute(
            f"CREATE TEMP TABLE _bulk_rows (LIKE {_quote(target)} INCLUDING DEFAULTS) "
            "ON COMMIT DROP"
        )
        cur.copy_expert(f"COPY _bulk_rows ({cols}) FROM STDIN WITH (FORMAT csv)", data)
        cur.execute(
            f"INSERT INTO {_quote(target)} ({cols}) SELECT {cols} FROM _bulk_rows "
            f"ON CONFLICT ({_quote(key)}) DO UPDATE SET {update}"
        )
        cur.execute("DROP TABLE _bulk_rows")


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
