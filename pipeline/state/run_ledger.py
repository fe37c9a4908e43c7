"""The ledger rows a run has changed so far, on disk: a SQLite file in the run's folder.

A run that replays a large input in batches (a rebuild, a first run over an inherited
archive: ``batch_rows``) merges each batch against the ledger as the batches before it left
it. Those rows live here, not in memory, so memory is bounded by a batch and not by the
archive; the state database is not touched until the run's one commit, which copies this
file's rows in (attached on SQLite, ``COPY`` in blocks on PostgreSQL). A crash leaves only
this file in the run's folder, which the next run's clean-up removes.

Rows are read and written as Arrow tables through the ADBC SQLite driver (no Python value
per row; see :mod:`pipeline.state.bulk`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.state import schema

TABLE = "ledger"
CID_LISTS = "cid_lists"  # the tokens of the CID lists this run writes: day, token
FINAL = "ledger_final"  # a view: the rows with this run's CID lists applied (committed)
# Arrow types of the ledger's columns, in table order (from pipeline/state/schema.py).
LEDGER_TYPES = {
    str(c.name): {bool: pa.bool_(), int: pa.int64(), str: pa.string()}[c.type.python_type]
    for c in schema.ledger.columns
}
_SQL_TYPES = {pa.bool_(): "INTEGER", pa.int64(): "INTEGER", pa.string(): "TEXT"}
READ_BLOCK = 1_000_000  # rows per block when the rows are handed on (the commit)


class RunLedger:
    """Changed ledger rows of one run, keyed by token (the newest value of each)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if not Path(self.path).exists():
            cols = ", ".join(f'"{n}" {_SQL_TYPES[t]}' for n, t in LEDGER_TYPES.items())
            # WAL: the CID lists are written while the pending rows are read in blocks
            with closing(sqlite3.connect(self.path)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
            with self._cursor() as cur:
                cur.execute(f"CREATE TABLE {TABLE} ({cols}, PRIMARY KEY (token)) WITHOUT ROWID")
                cur.execute(f"CREATE TABLE {CID_LISTS} (day TEXT, token TEXT)")
                final = ", ".join(
                    {"cid_day": "coalesce(c.day, l.cid_day) AS cid_day",
                     "cid_pending": "(l.cid_pending AND c.day IS NULL) AS cid_pending"}.get(
                        n, f'l."{n}"') for n in LEDGER_TYPES
                )  # fmt: skip
                cur.execute(
                    f"CREATE VIEW {FINAL} AS SELECT {final} FROM {TABLE} l "
                    f"LEFT JOIN {CID_LISTS} c ON c.token = l.token"
                )

    def _cursor(self):  # noqa: ANN202 - an ADBC cursor whose connection commits on close
        import adbc_driver_sqlite.dbapi as adbc

        conn = adbc.connect(self.path)
        return _Committing(conn)

    def put(self, rows: pa.Table) -> None:
        """Insert or replace ``rows`` (the ledger's columns, any order) by token."""
        if not rows.num_rows:
            return
        rows = rows.select(list(LEDGER_TYPES))
        names = ", ".join(f'"{n}"' for n in LEDGER_TYPES)
        with self._cursor() as cur:
            cur.adbc_ingest("incoming", rows, mode="replace")
            cur.execute(f"INSERT OR REPLACE INTO {TABLE} ({names}) SELECT {names} FROM incoming")
            cur.execute("DROP TABLE incoming")

    def aligned(self, tokens: pa.Array) -> tuple[pa.Table, pa.Array]:
        """The rows of ``tokens``, aligned with them (nulls where this run has none), and
        whether each token has one."""
        names = ", ".join(f'l."{n}"' for n in LEDGER_TYPES)
        with self._cursor() as cur:
            cur.adbc_ingest("wanted", pa.table({"token": tokens}), mode="replace")
            cur.execute(
                f"SELECT w.rowid AS _at, {names} FROM wanted w JOIN {TABLE} l ON l.token = w.token"
            )
            found = cur.fetch_arrow_table()
            cur.execute("DROP TABLE wanted")
        if not found.num_rows:
            empty = pa.table({n: pa.nulls(len(tokens), t) for n, t in LEDGER_TYPES.items()})
            return empty, pa.array([False] * len(tokens))
        found = _typed(found)
        at = pc.subtract(found.column("_at"), 1)  # rowids of a new table count from 1
        idx = pc.index_in(pa.array(range(len(tokens)), pa.int64()), value_set=at)
        have = pc.is_valid(idx)
        return found.drop_columns(["_at"]).take(idx), have

    def select(self, columns: list[str], where: str = "", final: bool = False) -> pa.Table:
        """``columns`` of the rows (``where``: an SQL condition on the ledger's columns);
        ``final``: with this run's CID lists applied, as the commit copies them."""
        names = ", ".join(f'"{n}"' for n in columns)
        source = FINAL if final else TABLE
        with self._cursor() as cur:
            cur.execute(f"SELECT {names} FROM {source} {f'WHERE {where}' if where else ''}")
            return _typed(cur.fetch_arrow_table())

    def count(self) -> int:
        with self._cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {TABLE}")
            return int(cur.fetchone()[0])

    def blocks(
        self, columns: list[str] | None = None, where: str = "", final: bool = False
    ) -> Iterator[pa.Table]:
        """``columns`` (default: all) of the rows (``where``: an SQL condition; ``final``:
        as :meth:`select`), in token order, in tables of at most :data:`READ_BLOCK` rows."""
        names = ", ".join(f'"{n}"' for n in columns or LEDGER_TYPES)
        source = FINAL if final else TABLE
        with self._cursor() as cur:
            cur.execute(
                f"SELECT {names} FROM {source} {f'WHERE {where}' if where else ''} ORDER BY token"
            )
            reader = cur.fetch_record_batch()
            pending: list[pa.RecordBatch] = []
            size = 0
            for batch in reader:
                pending.append(batch)
                size += batch.num_rows
                if size >= READ_BLOCK:
                    yield _typed(pa.Table.from_batches(pending))
                    pending, size = [], 0
            if pending:
                yield _typed(pa.Table.from_batches(pending))

    # --- the CID lists this run writes ------------------------------------------------
    def clear_cid_lists(self) -> None:
        """No list yet (a step run again starts over); the indexes are made once the lists
        are complete (:meth:`cid_counts`): one sort instead of millions of inserts."""
        with self._cursor() as cur:
            cur.execute("DROP INDEX IF EXISTS ix_cid_day")
            cur.execute("DROP INDEX IF EXISTS ix_cid_token")
            cur.execute(f"DELETE FROM {CID_LISTS}")

    def add_cid_lists(self, listed: pa.Table) -> None:
        """Tokens going on CID lists (``day, token``)."""
        if listed.num_rows:
            with self._cursor() as cur:
                cur.adbc_ingest(CID_LISTS, listed.select(["day", "token"]), mode="append")

    def cid_counts(self) -> dict[str, int]:
        """Tokens per list, by day, once every list is complete (indexes them: each list is
        then read in order, and the commit finds each listed token)."""
        with self._cursor() as cur:
            cur.execute(f"CREATE INDEX IF NOT EXISTS ix_cid_day ON {CID_LISTS} (day, token)")
            cur.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS ix_cid_token ON {CID_LISTS} (token)")
            cur.execute(f"SELECT day, count(*) FROM {CID_LISTS} GROUP BY day")
            return {str(day): int(n) for day, n in cur.fetchall()}

    def cid_list(self, day: str) -> list[str]:
        """The tokens of one day's list, sorted (byte order)."""
        with self._cursor() as cur:
            cur.execute(f"SELECT token FROM {CID_LISTS} WHERE day = ? ORDER BY token", (day,))
            return [str(t) for (t,) in cur.fetchall()]

    def listed_elsewhere(self) -> pa.Table:
        """The tokens of this run's CID lists whose ledger row this run did not change
        (``day, token``): the commit puts them on their list in the state. (The rows it did
        change go in as :data:`FINAL` has them, on their list.)"""
        with self._cursor() as cur:
            cur.execute(
                f"SELECT day, token FROM {CID_LISTS} "
                f"WHERE token NOT IN (SELECT token FROM {TABLE}) ORDER BY day, token"
            )
            rest = cur.fetch_arrow_table()
        return rest.cast(pa.schema([("day", pa.string()), ("token", pa.string())]))


class _Committing:
    """A cursor of ``conn`` whose work is committed (and the connection closed) on exit."""

    def __init__(self, conn) -> None:  # noqa: ANN001 - an ADBC connection
        self.conn = conn

    def __enter__(self):  # noqa: ANN204
        self.cursor = self.conn.cursor()
        return self.cursor

    def __exit__(self, exc_type, *_exc) -> None:  # noqa: ANN001
        with closing(self.conn):
            try:
                if exc_type is None:
                    self.conn.commit()
            finally:
                self.cursor.close()


def _typed(table: pa.Table) -> pa.Table:
    """SQLite hands booleans back as integers (and an empty result as nulls): cast each
    ledger column to its Arrow type."""
    cols = []
    for name in table.column_names:
        want = LEDGER_TYPES.get(name)
        col = table.column(name)
        cols.append(col if want is None or col.type == want else col.cast(want))
    return pa.table(cols, names=table.column_names)
