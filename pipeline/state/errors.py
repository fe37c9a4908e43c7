"""Failures of the state database, reported without the values they were about (SPEC §6).

A failed statement's exception quotes its bound parameters (SQLAlchemy's ``[parameters:
...]``) and the database's message, whose DETAIL can hold values too (PostgreSQL's ``Key
(token)=(...) already exists``, ``Failing row contains (...)``). Every database error that
leaves :mod:`pipeline.state` is a :class:`StateError` instead, whose message names the state
(its URL without a password), the operation, the kind of statement, the database's error
code and a generic reason for that code, and nothing else. The original is not chained:
Dagster stores an exception's chain in its event log, for good.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

F = TypeVar("F", bound=Callable[..., Any])

# Statement kinds a message names (the statement's first word); anything else: "statement"
KINDS = frozenset(
    "SELECT INSERT UPDATE DELETE COPY CREATE DROP ALTER ATTACH DETACH PRAGMA WITH DO".split()
)
# Drivers whose exceptions are database errors, by top-level module (imported only by use)
DRIVER_MODULES = frozenset({"psycopg", "psycopg2", "adbc_driver_manager"})
# sqlite3_errstr() of the primary result codes: generic, never about the data
SQLITE_REASONS = {
    "SQLITE_ERROR": "SQL logic error", "SQLITE_PERM": "access permission denied",
    "SQLITE_ABORT": "query aborted", "SQLITE_BUSY": "database is locked",
    "SQLITE_LOCKED": "database table is locked", "SQLITE_NOMEM": "out of memory",
    "SQLITE_READONLY": "attempt to write a readonly database",
    "SQLITE_INTERRUPT": "interrupted", "SQLITE_IOERR": "disk I/O error",
    "SQLITE_CORRUPT": "database disk image is malformed", "SQLITE_FULL": "database or disk is full",
    "SQLITE_CANTOPEN": "unable to open database file", "SQLITE_PROTOCOL": "locking protocol",
    "SQLITE_SCHEMA": "database schema has changed", "SQLITE_TOOBIG": "string or blob too big",
    "SQLITE_CONSTRAINT": "constraint failed", "SQLITE_MISMATCH": "datatype mismatch",
    "SQLITE_MISUSE": "bad parameter or other API misuse", "SQLITE_RANGE": "column index out of range",
    "SQLITE_NOTADB": "file is not a database",
}  # fmt: skip


class StateError(RuntimeError):
    """A state-database operation failed. The message names the state, the operation, the
    kind of statement and the database's error code, never the statement's values;
    ``operation``, ``kind`` and ``code`` hold the same for callers."""

    def __init__(self, message: str, operation: str = "", kind: str = "", code: str = "") -> None:
        super().__init__(message)
        self.operation, self.kind, self.code = operation, kind, code


class Steps:
    """The step a multi-statement operation (a run's commit) is at, for its error."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.step = ""
        self.kind = ""  # when the failing call names no statement (COMMIT)

    def __call__(self, step: str, kind: str = "") -> None:
        self.step, self.kind = step, kind

    def __str__(self) -> str:
        return f"{self.operation}: {self.step}" if self.step else self.operation


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from SQLAlchemy or a database driver."""
    if isinstance(exc, sa.exc.SQLAlchemyError | sqlite3.Error):
        return True
    return type(exc).__module__.split(".", 1)[0] in DRIVER_MODULES


def statement_error(sql: str, exc: Exception, base: type[Exception]) -> sa.exc.DBAPIError:
    """A driver's ``exc`` (of DB-API base class ``base``) raised by ``sql`` outside
    SQLAlchemy (the driver's own cursor), as SQLAlchemy would raise it: with its statement."""
    return sa.exc.DBAPIError.instance(sql, None, exc, base, hide_parameters=True)


def state_error(where: str, operation: str | Steps, exc: BaseException) -> StateError:
    """The :class:`StateError` for ``exc`` raised by ``operation`` on the state ``where``."""
    statement = getattr(exc, "statement", None)
    kind = _kind(statement) or (operation.kind if isinstance(operation, Steps) else "")
    code, reason = _code(exc)
    what = ", ".join(p for p in (f"{kind} statement" if kind else "", code, reason) if p)
    message = f"state {where}: {operation} failed ({what})"
    return StateError(message, str(operation), kind, code)


@contextmanager
def reporting(where: str, operation: str | Steps) -> Iterator[None]:
    """Turn a database error raised inside into a :class:`StateError` (not chained)."""
    try:
        yield
    except StateError:
        raise
    except Exception as exc:
        if not is_database_error(exc):
            raise
        raise state_error(where, operation, exc) from None


def reported(operation: str) -> Callable[[F], F]:
    """Decorate a method of an object with a ``where`` (its state, as shown): a database
    error it raises becomes a :class:`StateError` naming ``operation``. Raised outside the
    ``except`` block, the new error carries no trace of the original (no ``__context__``)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                with reporting(self.where, operation):
                    return fn(self, *args, **kwargs)
            except StateError as exc:
                error = exc
            error.__context__ = None
            raise error from None

        return wrapper  # type: ignore[return-value]

    return decorate


def _kind(statement: str | None) -> str:
    words = (statement or "").split(None, 1)
    if not words:
        return ""
    word = words[0].upper()
    return word if word in KINDS else "statement"


def _code(exc: BaseException) -> tuple[str, str]:
    """The database's error code and a generic reason for it (from the code, never from the
    message, which may quote values)."""
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(orig, sqlite3.Error):
        name = getattr(orig, "sqlite_errorname", "") or ""
        primary = next((k for k in SQLITE_REASONS if name == k or name.startswith(k + "_")), "")
        return name or "SQLite error", SQLITE_REASONS.get(primary, _words(type(orig).__name__))
    if isinstance(sqlstate, str) and sqlstate:
        return f"SQLSTATE {sqlstate}", _postgres_reason(sqlstate) or _words(type(orig).__name__)
    if getattr(exc, "connection_invalidated", False):
        return "no error code", "connection lost"
    if isinstance(exc, sa.exc.OperationalError) or type(orig).__name__ == "OperationalError":
        return "no error code", "connection failed or lost"
    return "no error code", _words(type(orig).__name__)


def _postgres_reason(sqlstate: str) -> str:
    """PostgreSQL's condition name of ``sqlstate`` (``23505``: unique violation)."""
    try:
        from psycopg import errors
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return ""
    try:
        return _words(errors.lookup(sqlstate).__name__)
    except KeyError:
        return ""


def _words(name: str) -> str:
    """``UniqueViolation`` -> ``unique violation``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()
