"""State-database errors name the state, the operation, the kind of statement and the error
code, never a value (SPEC §6, issue 28), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa

from pipeline.state.errors import StateError
from pipeline.state.lock import probe
from pipeline.state.store import RunChanges, StateStore
from pipeline.state.upsert import BULK_MIN_ROWS

TOKEN, RID = "tok-2Vd86cGstjqCH", "R_3PlantedRespons"


def _ledger(n: int, response_id: str | None = RID) -> pa.Table:
    """``n`` ledger rows; the last one is the planted respondent (``response_id`` None
    breaks the NOT NULL rule)."""
    tokens = [f"t{i:07d}" for i in range(n - 1)] + [TOKEN]
    return pa.table({
        "token": tokens,
        "response_id": pa.array([f"R{i}" for i in range(n - 1)] + [response_id], pa.string()),
        "start": np.arange(n), "recorded": np.arange(n),
        "day": ["2021-06-01"] * n, "eligible": [True] * n,
        "reason": pa.nulls(n, pa.string()), "on_time_day": ["2021-06-01"] * n,
        "cid_day": pa.nulls(n, pa.string()), "cid_pending": [True] * n,
    })  # fmt: skip


def _changes(run_id: str = "r1", **kw) -> RunChanges:
    return RunChanges(run_id=run_id, as_of="2021-06-02T12:00:00+00:00", recorded="2021-06-02", **kw)


def _assert_quiet(err: StateError) -> None:
    text = str(err)
    assert TOKEN not in text and RID not in text and "\n" not in text
    assert err.__cause__ is None and err.__suppress_context__


@pytest.mark.parametrize("n", [3, BULK_MIN_ROWS + 1], ids=["rows bound", "bulk"])
def test_a_refused_row_is_not_quoted(state_url, n):
    """PostgreSQL's DETAIL ("Failing row contains (...)"; COPY's CONTEXT line) and SQLite's
    message stay out of the error; the commit changes nothing."""
    store = StateStore(state_url)
    with pytest.raises(StateError) as err:
        store.commit(_changes(ledger_rows=_ledger(n, response_id=None)))
    _assert_quiet(err.value)
    postgres = state_url.startswith("postgresql")
    # large PostgreSQL writes COPY into a temporary table that has the ledger's NOT NULLs
    kind = "COPY" if postgres and n > BULK_MIN_ROWS else "INSERT"
    code = "SQLSTATE 23502, not null violation" if postgres else "SQLITE_CONSTRAINT_NOTNULL"
    assert f"commit: upsert into ledger failed ({kind} statement, {code}" in str(err.value)
    assert err.value.operation == "commit: upsert into ledger" and err.value.kind == kind
    assert store.last_seq() == 0 and store.ledger_rows([TOKEN]).empty
    assert store.commit(_changes(ledger_rows=_ledger(n))) == 1  # the store is still usable
    store.dispose()


def test_a_failed_read_names_the_read(state_url):
    store = StateStore(state_url)
    store.commit(_changes(ledger_rows=_ledger(3)))
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE weights")
    with pytest.raises(StateError, match=r"read: weights failed \(SELECT statement, ") as err:
        store.weights_for([TOKEN, "t0000001"])
    _assert_quiet(err.value)
    expected = "SQLSTATE 42P01, undefined table" if "postgresql" in state_url else "SQLITE_ERROR"
    assert expected in str(err.value)
    store.dispose()


def test_an_unreachable_server_is_named_without_its_password():
    url = "postgresql://pipeline:s3cret-pw@127.0.0.1:1/panel_state?password=other-pw"
    with pytest.raises(StateError) as err:
        StateStore(url)
    text = str(err.value)
    assert text.startswith(
        "state postgresql://pipeline@127.0.0.1:1/panel_state: open: create or upgrade tables "
        "failed ("
    )
    assert "pw" not in text and "\n" not in text
    with pytest.raises(StateError, match="lock: open the state|lock: take the run lock") as err:
        probe(url)
    assert "pw" not in str(err.value)


def test_postgres_sessions_keep_values_out_of_the_server_log(postgres_url):
    """Values travel apart from the statement (psycopg 3), and the session asks the server
    not to log them (the test's role is a superuser: every setting applies)."""
    store = StateStore(postgres_url)
    assert store.engine.dialect.driver == "psycopg"
    with store.engine.connect() as conn:
        settings = {
            name: conn.exec_driver_sql(f"show {name}").scalar()
            for name in (
                "log_parameter_max_length_on_error",
                "log_parameter_max_length",
                "log_error_verbosity",
            )
        }
    assert settings == {
        "log_parameter_max_length_on_error": "0",
        "log_parameter_max_length": "0",
        "log_error_verbosity": "terse",
    }
    store.dispose()


def test_debug_logging_quotes_no_row(state_url, caplog):
    store = StateStore(state_url)
    store.commit(_changes(ledger_rows=_ledger(3), cid_listed={"2021-06-01": [TOKEN]}))
    # SQLAlchemy's own logger at DEBUG (as a Dagster instance's managed_python_loggers or
    # echo="debug" would have it): statements are logged, rows and parameters are not
    with caplog.at_level(logging.DEBUG, logger="sqlalchemy.engine"):
        assert list(store.ledger_rows([TOKEN])["token"]) == [TOKEN]
        assert list(store.cid_pending()["token"]) == ["t0000000", "t0000001"]
        store.commit(_changes(run_id="r2", base_seq=1, ledger_rows=_ledger(3, response_id="R_x")))
    engine_records = [r for r in caplog.records if r.name.startswith("sqlalchemy.engine")]
    assert any("SELECT" in r.getMessage() for r in engine_records)
    assert any("parameters hidden" in r.getMessage() for r in engine_records)
    assert not any(TOKEN in r.getMessage() or "t0000001" in r.getMessage() for r in caplog.records)
    store.dispose()


def test_state_error_survives_pickling():
    import pickle

    err = StateError("state x: read: days failed (SELECT statement)", "read: days", "SELECT", "")
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.operation == "read: days" and back.kind == "SELECT"


def test_engine_url_drives_postgres_through_psycopg3(postgres_url):
    """A URL written for psycopg2 is opened with psycopg 3 (it stays as written elsewhere:
    the run lock's key, the messages)."""
    assert postgres_url.startswith("postgresql+psycopg2://")
    store = StateStore(postgres_url)
    assert store.engine.url.drivername == "postgresql+psycopg"
    assert store.url == postgres_url
    store.dispose()
    other = sa.make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    store = StateStore(other)
    assert store.engine.url.drivername == "postgresql+psycopg"
    store.dispose()


def test_a_transaction_outside_a_run_reports_like_a_commit(state_url):
    store = StateStore(state_url)
    with pytest.raises(StateError, match="rebuild: restore history failed") as err:
        with store.transaction("rebuild: restore history") as conn:
            conn.execute(sa.text("insert into weights (cid, weight, file) values (:c, '1', 'f')"),
                         {"c": TOKEN})  # fmt: skip
            conn.execute(
                sa.text("insert into weights (cid, weight, file) values (:c, '1', 'f')"),
                {"c": TOKEN},
            )  # fmt: skip  (the same key again: refused)
    _assert_quiet(err.value)
    assert store.weights_for([TOKEN]).num_rows == 0  # rolled back
    store.dispose()


def test_a_session_killed_mid_commit(postgres_url):
    """The issue's case: the server ends the session during the commit (here the session
    terminates itself from a trigger, as a shutdown or pg_terminate_backend would)."""
    store = StateStore(postgres_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER die BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION die()"
        )
    with pytest.raises(StateError) as err:
        store.commit(_changes(ledger_rows=_ledger(3)))
    _assert_quiet(err.value)
    assert str(err.value).startswith(f"state {postgres_url}: commit: upsert into ledger failed (")
    # psycopg sees the FATAL 57P01 or, in pipeline mode (executemany), the closed connection
    assert str(err.value).endswith(
        ("(INSERT statement, SQLSTATE 57P01, admin shutdown)",
         "(INSERT statement, no error code, connection lost)")
    )  # fmt: skip
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER die ON ledger")
    assert store.last_seq() == 0 and store.ledger_rows([TOKEN]).empty
    assert store.commit(_changes(ledger_rows=_ledger(3))) == 1
    store.dispose()
