"""A state-database statement that fails in the middle of a run's commit (issue 28): the run
fails with one line naming the operation and the database's error code, and no token or
ResponseId reaches stdout/stderr, Dagster's event log or PostgreSQL's own log (SPEC §6); the
state is unchanged and the next run converges.

The failure is a trigger in the test's own database (PostgreSQL) or state file (SQLite) that
refuses some ledger rows, with the refused row's token in the error's DETAIL, as PostgreSQL's
``Key (token)=(...) already exists`` would have it. Runs go through ``python -m pipeline run``
in a child process at ``PIPELINE_LOG_LEVEL=DEBUG``, so whatever the run logs is scanned too.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.state.store import StateStore
from tests.exports import response, write_export
from tests.plugins.databases import POSTGRES_URL
from tests.plugins.services import missing_service
from tests.study import Study

ROOT = Path(__file__).resolve().parents[1]

REFUSE_FUNCTION = """CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'row refused by the test'
    USING DETAIL = 'Key (token)=(' || NEW.token || ') of response ' || NEW.response_id;
END $$"""
PG_TRIGGERS = {
    # the second night's new ledger rows (of the second day): the upsert's INSERT
    "insert": "CREATE TRIGGER refuse BEFORE INSERT ON ledger FOR EACH ROW "
    "WHEN (NEW.day = '2021-06-02') EXECUTE FUNCTION refuse_row()",
    # the second night puts the first night's tokens on a CID list: UPDATE ... IN (...)
    "cid list": "CREATE TRIGGER refuse BEFORE UPDATE ON ledger FOR EACH ROW "
    "WHEN (OLD.cid_day IS NULL AND NEW.cid_day IS NOT NULL) EXECUTE FUNCTION refuse_row()",
}
# Each scenario: the responses of the first night's export and of the second night's (the
# run that fails). The first night's rows of 06-02 are recorded early that day: their CID
# list is written the night after.
SCENARIOS = {
    "insert": ({"2021-06-01": "09"}, {"2021-06-02": "10"}),
    "cid list": ({"2021-06-01": "09", "2021-06-02": "01"}, {}),
}
CLOCKS = ("2021-06-02T12:00:00Z", "2021-06-03T12:00:00Z")
SQLITE_TRIGGER = """CREATE TRIGGER refuse BEFORE INSERT ON ledger WHEN NEW.day = '2021-06-02'
BEGIN SELECT RAISE(ABORT, 'row refused by the test'); END"""


@dataclass
class Respondents:
    """Responses with random tokens and ResponseIds: nothing else on the server (other
    tests, other sessions) can log these values, so any occurrence is this run's."""

    rows: list[dict[str, str]]

    @classmethod
    def make(cls, days: dict[str, str], per_day: int = 13) -> Respondents:
        rows = []
        for day, hour in days.items():
            for i in range(per_day):
                token = secrets.token_urlsafe(13)[:17]
                rid = "R_" + secrets.token_hex(8)[:15]
                rows.append(response(rid, token, f"{day} {hour}:{i:02d}:00"))
        return cls(rows)

    @property
    def secrets(self) -> list[bytes]:
        return [r[k].encode() for r in self.rows for k in ("token", "ResponseId")]

    def __add__(self, other: Respondents) -> Respondents:
        return Respondents(self.rows + other.rows)

    def found_in(self, texts: dict[str, bytes]) -> list[tuple[str, bytes]]:
        return [(where, s) for where, data in texts.items() for s in self.secrets if s in data]


def _cli(study: Study, as_of: str, home: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pipeline", "run", "--config", str(study.config)]
    env = {**os.environ, "DAGSTER_HOME": str(home), "PIPELINE_LOG_LEVEL": "DEBUG"}
    return subprocess.run(
        [*cmd, "--as-of", as_of], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )


def _night(
    study: Study, people: Respondents, clock: str, home: Path, status: int = 0
) -> subprocess.CompletedProcess[str]:
    """A night: the night's export (if any responses) into the drop, then a run at ``clock``."""
    if people.rows:
        write_export(study.drop, f"export_{clock[:10]}.csv", people.rows)
    home.mkdir(exist_ok=True)
    proc = _cli(study, clock, home)
    assert proc.returncode == status, proc.stderr[-3000:]
    return proc


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The CLI's one-line error (DEBUG logs come before it on stderr)."""
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.rstrip("\n").splitlines()[-1]
    assert last.startswith("error: StateError: state "), proc.stderr[-3000:]
    return last


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _dagster_failure(home: Path, monkeypatch) -> tuple[str, str]:
    """The failed run's step failure message (from the instance's event log) and the whole
    event log as text."""
    from dagster import DagsterInstance, DagsterRunStatus

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        failed = [r for r in instance.get_runs() if r.status == DagsterRunStatus.FAILURE]
        assert len(failed) == 1
        records = instance.all_logs(failed[0].run_id)
    failures = [
        r.dagster_event for r in records if r.dagster_event and r.dagster_event.is_step_failure
    ]
    assert len(failures) == 1
    error = failures[0].step_failure_data.error  # Dagster's wrapper, caused by ...
    assert error.cause is not None
    state = error.cause  # ... the pipeline's error, with nothing chained to it
    assert state.cls_name == "StateError" and state.cause is None and state.context is None
    return state.message, repr(records)


def _same_outputs(study: Study, reference: Study) -> None:
    assert study.daily() == reference.daily()
    for name in study.daily():
        assert study.text(name) == reference.text(name), name
    cids = sorted(p.name for p in study.cids.iterdir())
    assert cids and cids == sorted(p.name for p in reference.cids.iterdir())
    for name in cids:
        assert (study.cids / name).read_bytes() == (reference.cids / name).read_bytes()


def _ledger_count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("select count(*) from ledger")).scalar()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class LoggedDatabase:
    """A new database whose sessions PostgreSQL logs statement by statement."""

    url: str
    name: str
    log: Path
    admin: sa.Engine

    def execute(self, *statements: str) -> None:
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for sql in statements:
                    conn.exec_driver_sql(sql)
        finally:
            engine.dispose()


def _server_log(conn: sa.Connection) -> Path | None:
    """PostgreSQL's log file: the logging collector's, else the Debian cluster's stderr."""
    current = conn.execute(sa.text("select pg_current_logfile()")).scalar()
    if current:
        path = Path(current)
        if not path.is_absolute():
            path = Path(conn.execute(sa.text("show data_directory")).scalar()) / path
        return path if os.access(path, os.R_OK) else None
    major = conn.execute(sa.text("show server_version_num")).scalar()[:-4]
    found = sorted(Path("/var/log/postgresql").glob(f"postgresql-{major}-*.log"))
    return found[0] if found and os.access(found[0], os.R_OK) else None


@pytest.fixture
def logged_db() -> Iterator[LoggedDatabase]:
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            log = _server_log(conn)
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not available"
        admin.dispose()
        missing_service(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}")
    if log is None:
        admin.dispose()
        missing_service("PostgreSQL's log file is not readable here")
    name = f"t_log_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}"')
        # for this database's sessions only; dropped with it
        conn.exec_driver_sql(f"alter database \"{name}\" set log_statement = 'all'")
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield LoggedDatabase(url, name, log, admin)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'drop database "{name}" with (force)')
        admin.dispose()


@pytest.mark.parametrize("where", list(PG_TRIGGERS))
def test_failed_postgres_commit_quotes_no_respondent(tmp_path, monkeypatch, logged_db, where):
    first, second = (Respondents.make(days) for days in SCENARIOS[where])
    study = Study(tmp_path / "pg", state=logged_db.url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    _night(study, first, CLOCKS[0], home)
    logged_db.execute(REFUSE_FUNCTION, PG_TRIGGERS[where])
    seq, rows = StateStore(logged_db.url).last_seq(), _ledger_count(logged_db.url)
    offset = logged_db.log.stat().st_size

    proc = _night(study, second, CLOCKS[1], home, status=1)

    server_log = logged_db.log.read_bytes()[offset:]
    line = _one_line_error(proc)
    operation = "upsert into ledger" if where == "insert" else "put tokens on CID lists"
    kind = "INSERT" if where == "insert" else "UPDATE"
    assert (
        f"state {logged_db.url}: commit: {operation} failed "
        f"({kind} statement, SQLSTATE P0001, raise exception)"
    ) in line
    message, event_log = _dagster_failure(home, monkeypatch)
    assert "SQLSTATE P0001" in message
    texts = {"stdout": proc.stdout.encode(), "stderr": proc.stderr.encode()}
    texts |= {"event log": event_log.encode(), **_files(home)}
    texts["PostgreSQL log"] = server_log
    assert (first + second).found_in(texts) == []
    # the server did log this run's statements, with the values bound apart ($1)
    mine = [ln for ln in server_log.decode().splitlines() if f"@{logged_db.name} " in ln]
    statement = r'LOG:  execute [^:]*: (INSERT INTO|UPDATE) "?ledger"? .*\$1'
    assert any(re.search(statement, ln) for ln in mine), "\n".join(mine)[-3000:]
    assert any("ERROR:  row refused by the test" in ln for ln in mine)

    # nothing of the run was committed, and the next run converges
    assert StateStore(logged_db.url).last_seq() == seq and _ledger_count(logged_db.url) == rows
    logged_db.execute("DROP TRIGGER refuse ON ledger")
    _night(study, Respondents([]), CLOCKS[1], home)
    reference = Study(tmp_path / "ref")
    _night(reference, first, CLOCKS[0], tmp_path / "ref_home")
    _night(reference, second, CLOCKS[1], tmp_path / "ref_home")
    _same_outputs(study, reference)


# --------------------------------------------------------------------------------- SQLite


def test_failed_sqlite_commit_quotes_no_respondent(tmp_path, monkeypatch):
    first, second = (Respondents.make(days) for days in SCENARIOS["insert"])
    study = Study(tmp_path / "study")
    db = study.root / "state.db"
    home = tmp_path / "dagster_home"
    home.mkdir()
    _night(study, first, CLOCKS[0], home)
    with closing(sqlite3.connect(db)) as con:
        con.execute(SQLITE_TRIGGER)
        con.commit()

    proc = _night(study, second, CLOCKS[1], home, status=1)

    line = _one_line_error(proc)
    assert (
        f"state sqlite:///{db}: commit: upsert into ledger failed "
        "(INSERT statement, SQLITE_CONSTRAINT_TRIGGER, constraint failed)"
    ) in line
    message, event_log = _dagster_failure(home, monkeypatch)
    assert "SQLITE_CONSTRAINT_TRIGGER" in message
    texts = {"stdout": proc.stdout.encode(), "stderr": proc.stderr.encode()}
    texts |= {"event log": event_log.encode(), **_files(home)}
    assert (first + second).found_in(texts) == []
    assert StateStore(f"sqlite:///{db}").last_seq() == 1
    assert _ledger_count(f"sqlite:///{db}") == len(first.rows)

    with closing(sqlite3.connect(db)) as con:
        con.execute("DROP TRIGGER refuse")
        con.commit()
    _night(study, Respondents([]), CLOCKS[1], home)
    assert StateStore(f"sqlite:///{db}").last_seq() == 2
    assert _ledger_count(f"sqlite:///{db}") == len(first.rows) + len(second.rows)
