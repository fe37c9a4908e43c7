"""The state database's SQLAlchemy engine: the driver, the session settings, no parameters in
error messages.

PostgreSQL goes through psycopg 3 (:func:`pipeline.state.urls.engine_url`), which sends the
values of a statement apart from its text (the extended query protocol): the statement that
PostgreSQL logs (``log_statement``, or the ``STATEMENT:`` line of an error) holds ``$1``, not
a token. Each session also asks PostgreSQL not to write those values into its log
(:data:`QUIET_LOG`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.state import schema, urls

# PostgreSQL settings of the pipeline's own sessions, each where the role may set it:
# log_parameter_max_length_on_error (any role, PostgreSQL 13+): no bound values on the log
# line of a failed statement; log_parameter_max_length (superuser, or GRANT SET ON
# PARAMETER): none on statements logged by log_statement or log_min_duration_statement;
# log_error_verbosity terse: no DETAIL lines, which quote rows and keys ("Failing row
# contains (...)"). A setting the role may not change is left as the server has it
# (README: Production).
QUIET_LOG = """DO $$
DECLARE s text[];
BEGIN
  FOREACH s SLICE 1 IN ARRAY ARRAY[
    ['log_parameter_max_length_on_error', '0'],
    ['log_parameter_max_length', '0'],
    ['log_error_verbosity', 'terse']
  ] LOOP
    BEGIN
      PERFORM set_config(s[1], s[2], false);
    EXCEPTION WHEN insufficient_privilege OR undefined_object THEN NULL;
    END;
  END LOOP;
END $$"""


def open_engine(url: str, connect_args: dict[str, Any] | None = None) -> Engine:
    """An engine on the state database at ``url`` (as configured; see
    :func:`pipeline.state.urls.engine_url`). Neither its errors nor its log (statements at
    INFO) carry statement parameters (``hide_parameters``); the rows SQLAlchemy logs at
    DEBUG are dropped (:class:`NoRows`)."""
    engine = sa.create_engine(
        urls.engine_url(url), future=True, hide_parameters=True, connect_args=connect_args or {}
    )
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    if not any(isinstance(f, NoRows) for f in engine_log.filters):
        engine_log.addFilter(NoRows())
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        sa.event.listen(engine, "connect", _quiet_log)
    return engine


class NoRows(logging.Filter):
    """Drop SQLAlchemy's DEBUG records (``echo="debug"``, or a root logger at DEBUG such as
    ``PIPELINE_LOG_LEVEL=DEBUG``): they quote every row fetched, tokens included."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _quiet_log(dbapi_conn: Any, _record: Any) -> None:
    import psycopg

    try:
        with dbapi_conn.cursor() as cur:
            cur.execute(QUIET_LOG)
        dbapi_conn.commit()  # session settings made in a transaction last only if it commits
    except psycopg.Error:
        dbapi_conn.rollback()  # no PL/pgSQL on the server: its own log settings hold


def first_published_day(url: str) -> str | None:
    """The first `for` day a study's state has published, read without creating anything
    (None for a new study, a missing SQLite file or an unreachable database)."""
    db = urls.sqlite_file(url)
    if db is not None and not Path(db).expanduser().exists():
        return None
    # a code location loads this: an unreachable server must not hold it up for long
    args = {"connect_timeout": 5} if urls.engine_url(url).startswith("postgresql") else {}
    engine = open_engine(url, args)
    try:
        with engine.connect() as conn:
            t = schema.days
            query = sa.select(sa.func.min(t.c.day)).where(t.c.published_name.is_not(None))
            return conn.execute(query).scalar()
    except sa.exc.SQLAlchemyError:  # no such table yet, or no server: no partitions to show
        return None
    finally:
        engine.dispose()
