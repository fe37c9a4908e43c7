"""The state store: reads of the pipeline's database and the one-transaction commit of a run."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.state import bulk, schema, urls
from pipeline.state.engine import open_engine
from pipeline.state.errors import Steps, reported, reporting, statement_error
from pipeline.state.lock import RunInProgressError, advisory_lock, file_lock
from pipeline.state.run_ledger import FINAL, RunLedger
from pipeline.state.upsert import BULK_MIN_ROWS, chunks, upsert, write_ingested

WEIGHT_COLUMNS = ("cid", "weight", "file")
STAGED_KEYS = {"ledger": "token", "weights": "cid"}  # tables a run may stage, by key


@dataclass
class RunChanges:
    """Everything one run writes to the state database, committed together or not at all."""

    run_id: str
    as_of: str
    recorded: str
    files: list[dict[str, Any]] = field(default_factory=list)
    # full rows of changed tokens: a table, or a run ledger's file (state/run_ledger.py)
    ledger_rows: pa.Table | pd.DataFrame | str | None = None
    cid_listed: dict[str, list[str]] = field(default_factory=dict)  # day -> tokens
    cid_lists: list[dict[str, Any]] = field(default_factory=list)
    days: list[dict[str, Any]] = field(default_factory=list)  # full rows of changed days
    weights: pa.Table | list[dict[str, Any]] = field(default_factory=list)  # full rows
    published: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    outages: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    base_seq: int = 0
    # A rebuild from the archive: the ledger and the weights are replaced, not merged.
    replace_derived: bool = False
    settings: dict[str, Any] | None = None  # the settings the derived state is built with
    scratch: str | None = None  # a folder for large writes' staging files (default: temp)


class StateStore:
    """Access to the state database at ``url`` (created on first use). A database error
    leaves it as a :class:`StateError` that quotes no value (:mod:`pipeline.state.errors`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = urls.display_url(url)  # the state as errors name it (no password)
        if db := urls.sqlite_file(url):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        with reporting(self.where, "open: create or upgrade tables"):
            self.engine: Engine = open_engine(url)
            schema.metadata.create_all(self.engine)
            _migrate(self.engine)

    def sqlite_file(self) -> str | None:
        """The database file of a SQLite store (None for PostgreSQL and in-memory SQLite)."""
        return urls.sqlite_file(self.url)

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()

    # --- locking -------------------------------------------------------------------------
    @contextmanager
    def run_lock(self, shared: bool = False, name: str = "run") -> Iterator[None]:
        """Hold a lock of this state database; raise :class:`RunInProgressError` when taken.

        The nightly run takes ``run`` exclusively; per-day re-publication (backfill
        partitions, which may run in parallel) takes ``run`` shared plus ``day-<D>``
        exclusively. PostgreSQL: session advisory locks. SQLite: ``flock`` on files next to
        the database. Both are released when the process dies: a killed run never leaves a
        stale lock behind (see :mod:`pipeline.state.lock`).
        """
        if self.engine.dialect.name == "postgresql":
            with advisory_lock(self.engine, self.url, shared, name, self.where):
                yield
            return
        db = self.sqlite_file()
        if db is None:
            yield
            return
        with file_lock(db, shared, name):
            yield

    # --- reads ---------------------------------------------------------------------------
    @reported("read: newest run")
    def last_seq(self) -> int:
        """Sequence number of the newest committed run (0 before the first)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema.runs.c.seq))).scalar() or 0)

    @reported("read: known files")
    def known_files(self, source: str) -> dict[tuple[str, int, float], str]:
        """(path, size, mtime) → sha256 of every file already seen on ``source``."""
        t = schema.ingested_files
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.path, t.c.size, t.c.mtime, t.c.sha256).where(t.c.source == source)
            )
            return {(r.path, int(r.size), float(r.mtime)): r.sha256 for r in rows}

    @reported("read: file statuses")
    def file_statuses(self, shas: Iterable[str]) -> dict[str, str]:
        """sha256 → status for hashes already applied or quarantined (any source)."""
        t = schema.ingested_files
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(shas))):
                rows = conn.execute(sa.select(t.c.sha256, t.c.status).where(t.c.sha256.in_(chunk)))
                for r in rows:
                    if r.status in ("applied", "quarantined") or r.sha256 not in out:
                        out[r.sha256] = r.status
        return out

    @reported("read: pending files")
    def pending_files(self, kind: str) -> list[dict[str, Any]]:
        """Files holding rows recorded after their run's clock (to be re-read later)."""
        t = schema.ingested_files
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t).where(t.c.status == "pending", t.c.kind == kind).order_by(t.c.id)
            )
            return [dict(r._mapping) for r in rows]

    @reported("read: input files")
    def input_files(self, kind: str) -> list[dict[str, Any]]:
        """Every archived input file of a kind whose rows count (applied or pending), one
        row per content hash, oldest first: what a rebuild from the archive reads."""
        t = schema.ingested_files
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t)
                .where(t.c.kind == kind, t.c.status.in_(["applied", "pending"]))
                .order_by(t.c.id)
            )
            seen: dict[str, dict[str, Any]] = {}
            for r in rows:
                seen.setdefault(r.sha256, dict(r._mapping))
            return list(seen.values())

    @reported("read: settings")
    def settings(self) -> dict[str, Any] | None:
        """The settings the derived state (ledger, day stores) was built with; None before
        the first run and after an upgrade from a state without them."""
        with self.engine.connect() as conn:
            t = schema.meta
            return conn.execute(sa.select(t.c.value).where(t.c.key == "settings")).scalar()

    @reported("read: newest run's clock")
    def last_as_of(self) -> str | None:
        """The clock of the newest committed run (ISO 8601), None before the first."""
        t = schema.runs
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.c.as_of).order_by(t.c.seq.desc()).limit(1)).scalar()

    @reported("read: ledger")
    def has_ledger(self) -> bool:
        """Whether any token was ever recorded."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(schema.ledger.c.token).limit(1)).first() is not None

    @reported("read: applied files")
    def applied_files(self, kind: str) -> list[dict[str, Any]]:
        """Every applied input file of a kind (oldest first)."""
        t = schema.ingested_files
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.path, t.c.sha256)
                .where(t.c.kind == kind, t.c.status == "applied")
                .order_by(t.c.id)
            )
            return [dict(r._mapping) for r in rows]

    @reported("read: export layouts")
    def layouts(self) -> list[dict[str, Any]]:
        """Layouts (wave key, columns, question texts) of every applied export."""
        t = schema.ingested_files
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.sha256, t.c.layout)
                .where(t.c.kind == "export", t.c.status.in_(["applied", "pending"]))
                .order_by(t.c.id)
            )
            seen: dict[str, dict[str, Any]] = {}
            for r in rows:
                if r.layout:
                    seen.setdefault(r.sha256, r.layout)
            return list(seen.values())

    @reported("read: ledger rows")
    def ledger_rows(self, tokens: Iterable[str], columns: list[str] | None = None) -> pd.DataFrame:
        """Ledger rows of ``tokens`` (absent ones missing); ``columns``: those (token first)."""
        t = schema.ledger
        names = ["token", *[c for c in columns if c != "token"]] if columns else list(t.c.keys())
        rows: list[Any] = []
        with self.engine.connect() as conn:
            if conn.execute(sa.select(t.c.token).limit(1)).first() is None:
                return pd.DataFrame(columns=names)  # first run: nothing to look up
            keys = list(dict.fromkeys(tokens))
            # Plain driver SQL: compiling 5,000-parameter IN clauses per chunk is slow.
            cols = ", ".join(f'"{c}"' for c in names)
            for chunk in chunks(keys):
                sql = f"SELECT {cols} FROM ledger WHERE token IN ({self._marks(len(chunk))})"
                rows.extend(conn.exec_driver_sql(sql, tuple(chunk)).all())
        return pd.DataFrame(rows, columns=names)

    @reported("read: tokens pending a CID list")
    def cid_pending(self) -> pd.DataFrame:
        """Tokens that are weight-eligible but not yet on a CID list."""
        t = schema.ledger
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.token, t.c.on_time_day).where(sa.text("ledger.cid_pending"))
            ).all()  # bare column: SQLite and PostgreSQL then use the partial index
        return pd.DataFrame(rows, columns=["token", "on_time_day"])

    @reported("read: CID list days")
    def cid_list_days(self) -> set[str]:
        """Days whose CID list has been written."""
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(schema.cid_lists.c.day)).scalars())

    @reported("read: days")
    def days(self) -> dict[str, dict[str, Any]]:
        """Every day row, by day."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(schema.days)).all()
        return {r.day: dict(r._mapping) for r in rows}

    @reported("read: weights")
    def weights_for(self, tokens: Iterable[str]) -> pa.Table:
        """The stored weights (``cid``, ``weight``, ``file``) of the given tokens."""
        rows: list[Any] = []
        with self.engine.connect() as conn:
            # with no weight stored yet there is nothing to look up
            if conn.execute(sa.select(schema.weights.c.cid).limit(1)).first() is not None:
                # Plain driver SQL: compiling 5,000-parameter IN clauses per chunk is slow.
                for chunk in chunks(sorted(set(tokens))):
                    sql = (
                        "SELECT cid, weight, file FROM weights "
                        f"WHERE cid IN ({self._marks(len(chunk))})"
                    )
                    rows.extend(conn.exec_driver_sql(sql, tuple(chunk)).all())
        cols = list(zip(*rows, strict=True)) if rows else [(), (), ()]
        return pa.table(
            {n: pa.array(list(c), pa.string()) for n, c in zip(WEIGHT_COLUMNS, cols, strict=True)}
        )

    @reported("read: weight files")
    def weight_files(self) -> set[str]:
        """Names of weight files already applied."""
        t = schema.ingested_files
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.path).where(t.c.kind == "weights"))
            return {r.path for r in rows}

    @reported("read: published files")
    def published(self, names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Published files that are still in place, by name.

        With ``names``: only those files, plus every file that is not a daily version or a
        run manifest (cumulative, rollups, codebook, OUTAGES, SHA256SUMS): the rows a run
        looks up. Daily versions pile up days x nights with ``reissue: all``, so a run never
        loads them all.
        """
        cols = list(schema.published_files.c.keys())
        sql = f"SELECT {', '.join(cols)} FROM published_files WHERE NOT removed"
        if names is None:
            rows = self._driver_rows(sql)
        else:
            rows = self._driver_rows(sql + " AND kind NOT IN ('daily', 'run')")
            for chunk in chunks(sorted(set(names))):
                rows += self._driver_rows(
                    sql + f" AND kind IN ('daily', 'run') AND name IN ({self._marks(len(chunk))})",
                    tuple(chunk),
                )
        out = {r[0]: dict(zip(cols, r, strict=True)) for r in rows}
        for row in out.values():
            row["removed"] = False
        return out

    @reported("read: published checksums")
    def checksums(self) -> dict[str, str]:
        """name → SHA-256 of every published file still in place (for SHA256SUMS)."""
        return dict(self._driver_rows("SELECT name, sha256 FROM published_files WHERE NOT removed"))

    def _driver_rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples through the driver's own cursor: these tables hold tens of
        thousands of rows after a year, and SQLAlchemy Row objects would double the cost."""
        with self.engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
            except self.engine.dialect.loaded_dbapi.Error as exc:
                raise statement_error(sql, exc, self.engine.dialect.loaded_dbapi.Error) from exc
            finally:
                cursor.close()

    def _marks(self, n: int) -> str:
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        return ", ".join([mark] * n)

    @reported("read: OUTAGES entries")
    def outages(self) -> list[dict[str, Any]]:
        """All OUTAGES entries, newest first."""
        t = schema.outages
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.id.desc()))
            return [dict(r._mapping) for r in rows]

    @reported("write: OUTAGES entry")
    def add_outage(self, entry: dict[str, Any]) -> None:
        """Insert one operator entry at once (outside a run)."""
        with self.engine.begin() as conn:
            conn.execute(schema.outages.insert(), [entry])

    @contextmanager
    def transaction(self, operation: str) -> Iterator[Connection]:
        """A transaction for writes outside a run's commit (``rebuild`` restoring what was
        published): a database error in it is a :class:`StateError` naming ``operation``."""
        with reporting(self.where, operation), self.engine.begin() as conn:
            yield conn

    # --- the commit ----------------------------------------------------------------------
    def commit(self, ch: RunChanges, partial: bool = False) -> int:
        """Apply a run's changes in one transaction; returns the run's sequence number.

        Refuses when another run committed since this one read its base state. A
        ``partial`` commit (one day re-published by a backfill partition) skips that check
        and records no run.
        """
        at = Steps("commit" if not partial else "commit (one day)")
        with reporting(self.where, at):
            if not partial:
                at("connect, stage and attach large rows")
                with self.engine.connect() as conn, self._staged(conn, ch) as staged:
                    with conn.begin():
                        seq = self._commit_in(conn, ch, staged, at)
                        at("commit the transaction", "COMMIT")
                    at("detach staged rows")
                    return seq
            at("connect")
            with self.engine.begin() as conn:
                at("read the newest run")
                seq = int(conn.execute(sa.select(sa.func.max(schema.runs.c.seq))).scalar() or 0)
                at("upsert into days")
                upsert(conn, schema.days, "day", ch.days)
                at("upsert into published_files")
                upsert(conn, schema.published_files, "name", ch.published)
                if ch.outages:
                    at("insert into outages")
                    conn.execute(schema.outages.insert(), ch.outages)
                at("commit the transaction", "COMMIT")
            return seq

    def _stage(self, tables: dict[str, Any], folder: str | Path | None) -> str | None:
        """SQLite: the large ones of ``tables`` (at least :data:`BULK_MIN_ROWS` rows) written
        into a new SQLite file in ``folder`` (None: a temporary folder) for the commit to
        attach (:mod:`pipeline.state.bulk`); its path, or None (nothing large, PostgreSQL)."""
        big = {
            name: rows for name, rows in tables.items()
            if isinstance(rows, pa.Table) and rows.num_rows >= BULK_MIN_ROWS
        }  # fmt: skip
        if not (self.sqlite_file() and big):
            return None
        path = Path(tempfile.mkdtemp(prefix="state-stage-", dir=folder)) / "rows.sqlite"
        for name, rows in big.items():
            bulk.stage_sqlite(bulk.key_sorted(rows, STAGED_KEYS[name]), str(path), table=name)
        return str(path)

    @contextmanager
    def _staged(
        self, conn: Connection, ch: RunChanges
    ) -> Iterator[dict[str, tuple[str, str, list[str]]]]:
        """The large rows of ``ch``, staged now into ``ch.scratch`` (removed on the way out,
        whatever happens) and attached as ``staged``, and the run ledger's file attached as
        ``run_ledger``; yields, by table, the attached database and table holding its rows
        and their columns (none on PostgreSQL or for small writes)."""
        path = self._stage({"ledger": ch.ledger_rows, "weights": ch.weights}, ch.scratch)
        run_ledger = ch.ledger_rows if isinstance(ch.ledger_rows, str) else None
        attach = {"staged": path, "run_ledger": run_ledger if self.sqlite_file() else None}
        attach = {name: file for name, file in attach.items() if file}
        if not attach:
            yield {}
            return
        try:
            staged = bulk.sqlite_tables(path) if path else {}
            tables = {t: ("staged", t, c) for t, c in staged.items()}
            if "run_ledger" in attach:
                tables["ledger"] = ("run_ledger", FINAL, bulk.sqlite_tables(run_ledger)["ledger"])
            for name, file in attach.items():
                conn.exec_driver_sql(f"ATTACH DATABASE ? AS {name}", (file,))
            conn.commit()  # ATTACH is not transactional; the run's transaction starts after it
            try:
                yield tables
            finally:
                conn.rollback()
                for name in attach:
                    conn.exec_driver_sql(f"DETACH DATABASE {name}")
                conn.commit()
        finally:
            if path:
                shutil.rmtree(Path(path).parent, ignore_errors=True)

    def _commit_in(
        self,
        conn: Connection,
        ch: RunChanges,
        staged: dict[str, tuple[str, str, list[str]]],
        at: Steps,
    ) -> int:
        at("read the newest run")
        seq = int(conn.execute(sa.select(sa.func.max(schema.runs.c.seq))).scalar() or 0)
        if seq != ch.base_seq:
            raise RunInProgressError(
                f"state changed under this run (run {seq} committed after it started); rerun"
            )
        if ch.replace_derived:
            at("delete the derived ledger and weights")
            conn.execute(schema.ledger.delete())
            conn.execute(schema.weights.delete())
        for name, key, rows in (
            ("ledger", "token", ch.ledger_rows),
            ("weights", "cid", ch.weights),
        ):
            at(f"upsert into {name}")
            if name in staged:
                schema_name, source, columns = staged[name]
                conn.exec_driver_sql(bulk.copy_sqlite_sql(name, schema_name, columns, source))
            elif isinstance(rows, str):  # a run ledger, on a server database: in blocks
                for block in RunLedger(rows).blocks(final=True):
                    upsert(conn, schema.ledger, key, block)
            elif rows is not None and len(rows):
                upsert(conn, schema.metadata.tables[name], key, rows)
        at("record ingested files")
        write_ingested(conn, ch.files)
        at("put tokens on CID lists")
        for day, tokens in ch.cid_listed.items():
            t = schema.ledger
            for chunk in chunks(tokens):
                conn.execute(
                    t.update().where(t.c.token.in_(chunk)).values(cid_day=day, cid_pending=False)
                )
        for table, key, rows in (
            (schema.cid_lists, "day", ch.cid_lists),
            (schema.days, "day", ch.days),
            (schema.published_files, "name", ch.published),
        ):
            at(f"upsert into {table.name}")
            upsert(conn, table, key, rows)
        if ch.removed:
            at("mark removed files")
            t = schema.published_files
            conn.execute(t.update().where(t.c.name.in_(ch.removed)).values(removed=True))
        if ch.outages:
            at("insert into outages")
            conn.execute(schema.outages.insert(), ch.outages)
        if ch.settings is not None:
            at("record the settings")
            t = schema.meta
            conn.execute(t.delete().where(t.c.key == "settings"))
            conn.execute(t.insert(), [{"key": "settings", "value": ch.settings}])
        at("record the run")
        run = {"run_id": ch.run_id, "seq": seq + 1, "as_of": ch.as_of,
               "recorded": ch.recorded, "summary": ch.summary}  # fmt: skip
        conn.execute(schema.runs.insert(), [run])
        return seq + 1


def _migrate(engine: Engine) -> None:
    """Bring a state database made by an earlier version up to this schema.

    Only what a rebuild can't recreate is migrated in place; the derived state of an old
    database (ledger flags, day stores) is rebuilt from the archive by the next run, because
    it has no recorded settings (see ``StateStore.settings``).
    """
    inspector = sa.inspect(engine)
    ledger_cols = {c["name"] for c in inspector.get_columns("ledger")}
    day_cols = {c["name"] for c in inspector.get_columns("days")}
    with engine.begin() as conn:
        if "eligible_day" in ledger_cols and "on_time_day" not in ledger_cols:
            conn.exec_driver_sql("ALTER TABLE ledger RENAME COLUMN eligible_day TO on_time_day")
        if "render_key" not in day_cols:
            conn.exec_driver_sql("ALTER TABLE days ADD COLUMN render_key VARCHAR(64)")
        if "stale" not in day_cols:
            conn.exec_driver_sql("ALTER TABLE days ADD COLUMN stale BOOLEAN NOT NULL DEFAULT false")
