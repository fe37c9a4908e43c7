"""Writing rows inside a run's transaction: upserts by primary key (SQLite, PostgreSQL,
others) and the record of ingested files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.state import bulk, schema
from pipeline.state.errors import statement_error

CHUNK = 5000
# Upserts this large go through COPY or a staged file (state/bulk.py): bound row by row
# they took several times as long (bench_ledger_write.py; figures in bench/README.md).
BULK_MIN_ROWS = 10_000


def chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size`` (bounded IN lists and inserts)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def write_ingested(conn: Connection, files: list[dict[str, Any]]) -> None:
    t = schema.ingested_files
    for f in files:
        conn.execute(
            t.delete().where(
                t.c.source == f["source"],
                t.c.path == f["path"],
                t.c.size == f["size"],
                t.c.mtime == f["mtime"],
                t.c.sha256 == f["sha256"],
            )
        )
    if files:
        conn.execute(t.insert(), files)


def upsert(
    conn: Connection,
    table: sa.Table,
    key: str,
    rows: list[dict[str, Any]] | pd.DataFrame | pa.Table,
) -> None:
    """Insert or replace whole rows by primary key, inside the caller's transaction.

    SQLite: ``INSERT OR REPLACE`` through the driver's executemany (a run's large ledger
    write is staged instead: ``StateStore.commit``).
    PostgreSQL: ``INSERT ... ON CONFLICT DO UPDATE`` through psycopg 3's executemany,
    through ``COPY`` for large Arrow tables (see :mod:`pipeline.state.bulk`).
    """
    if isinstance(rows, pd.DataFrame):
        rows = pa.Table.from_pandas(rows, preserve_index=False)
    if isinstance(rows, pa.Table):
        rows = bulk.key_sorted(rows, key)
        if conn.dialect.name == "postgresql" and rows.num_rows >= BULK_MIN_ROWS:
            bulk.copy_postgres(conn.connection.dbapi_connection, table.name, key, rows)
            return
        names = list(rows.column_names)
        tuples = list(zip(*(bulk.python_values(rows.column(c)) for c in names), strict=True))
    else:
        if not rows:
            return
        names = sorted(set().union(*rows))
        tuples = [tuple(r.get(c) for c in names) for r in rows]
    if not tuples:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        cols = ", ".join(f'"{c}"' for c in names)
        marks = ", ".join("?" for _ in names)
        sql = f'INSERT OR REPLACE INTO "{table.name}" ({cols}) VALUES ({marks})'
        # the driver's own cursor: SQLAlchemy's executemany costs ~a third more per row
        cur = conn.connection.dbapi_connection.cursor()
        try:
            cur.executemany(sql, tuples)
        except sqlite3.Error as exc:
            raise statement_error(sql, exc, sqlite3.Error) from exc
        finally:
            cur.close()
        return
    if dialect == "postgresql":
        cols = ", ".join(f'"{c}"' for c in names)
        marks = ", ".join("%s" for _ in names)
        update = ", ".join(f'"{c}" = excluded."{c}"' for c in names if c != key)
        action = f"DO UPDATE SET {update}" if update else "DO NOTHING"
        sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks}) ON CONFLICT ("{key}") {action}'
        # psycopg 3's executemany: one prepared statement, the rows bound on the server and
        # sent in pipeline mode (no values in the statement text; see state/engine.py)
        conn.exec_driver_sql(sql, tuples)
        return
    dicts = [dict(zip(names, t, strict=True)) for t in tuples]
    col = table.c[key]
    for chunk in chunks([d[key] for d in dicts]):
        conn.execute(table.delete().where(col.in_(chunk)))
    for chunk in chunks(dicts, 20000):
        conn.execute(table.insert(), chunk)
