"""The state database's run locks, importable without the state store (pandas, Arrow).

The command line checks the nightly run's lock with :func:`probe` before Dagster starts,
so a second run is refused at once; :meth:`pipeline.state.store.StateStore.run_lock`
holds the locks for a run.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.state.urls import display_url, sqlite_file


class RunInProgressError(RuntimeError):
    """Another run holds the state database's run lock."""


def _what(name: str) -> str:
    return "another run is in progress" if name == "run" else f"{name} is being published"


@contextmanager
def file_lock(db: str, shared: bool = False, name: str = "run") -> Iterator[None]:
    """``flock`` on a file next to the SQLite database ``db`` (released when the process
    dies, so a killed run never leaves a stale lock)."""
    lock_path = Path(f"{db}.lock") if name == "run" else Path(f"{db}.{name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunInProgressError(
                f"{_what(name)} (lock {lock_path} is held); try later"
            ) from exc
        yield
    finally:
        os.close(fd)


@contextmanager
def advisory_lock(
    engine: Any, url: str, shared: bool = False, name: str = "run", where: str | None = None
) -> Iterator[None]:
    """A PostgreSQL session advisory lock keyed by the database URL and ``name``. A database
    error taking or releasing it is a ``StateError`` naming the state ``where`` (default:
    ``url`` without its password); one raised by the caller's block goes through as it is."""
    import sqlalchemy as sa

    from pipeline.state.errors import StateError, reporting

    where = where or display_url(url)
    key = int(hashlib.sha256(f"{url}|{name}".encode()).hexdigest()[:15], 16)
    suffix = "_shared" if shared else ""
    take = f"lock: take the {name} lock"
    with reporting(where, take):
        conn = engine.connect()
    try:
        with reporting(where, take):
            got = conn.execute(
                sa.text(f"select pg_try_advisory_lock{suffix}(:k)"), {"k": key}
            ).scalar()
        if not got:
            raise RunInProgressError(f"{_what(name)} (PostgreSQL advisory lock held); try later")
        failed = True
        try:
            yield
            failed = False
        finally:
            try:
                with reporting(where, f"lock: release the {name} lock"):
                    conn.execute(sa.text(f"select pg_advisory_unlock{suffix}(:k)"), {"k": key})
                    conn.commit()
            except StateError:
                if not failed:
                    raise  # else the block's own error is the one to report
    finally:
        conn.close()


def probe(url: str) -> None:
    """Raise :class:`RunInProgressError` when a run holds the nightly run lock right now."""
    db = sqlite_file(url)
    if db is not None:
        if not Path(db).expanduser().parent.is_dir():
            return  # no database yet: nothing can hold its lock
        with file_lock(str(Path(db).expanduser())):
            return
    from pipeline.state.engine import open_engine
    from pipeline.state.errors import reporting

    with reporting(display_url(url), "lock: open the state"):
        engine = open_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            return  # in-memory SQLite: nothing can hold its lock (as in StateStore.run_lock)
        with advisory_lock(engine, url):
            return
    finally:
        engine.dispose()
