"""State-database URLs: the one place a SQLite URL is taken apart, a PostgreSQL URL given its
driver (:func:`engine_url`) and a URL shown without its password (:func:`display_url`).

No SQLAlchemy import: the configuration and the command line's lock probe use it before
anything heavy is loaded. The rules are SQLAlchemy's (``make_url``), so the file named here
is the file the state store opens.
"""

from __future__ import annotations

import re


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL, as written (relative or absolute).

    ``sqlite:///state.db`` -> ``state.db``; ``sqlite:////abs/state.db`` -> ``/abs/state.db``;
    a driver (``sqlite+pysqlite://``) and a query (``?mode=ro``) are allowed. None for an
    in-memory database (``sqlite://``, ``sqlite:///:memory:``) and for any other database.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite":
        return None
    # [user[:password]@][host[:port]][/database][?query], as SQLAlchemy reads it
    database = rest.split("?", 1)[0].partition("/")[2]
    return None if database in ("", ":memory:") else database


# PostgreSQL through psycopg 3, which binds parameters on the server: psycopg2 wrote every
# value into the statement text it sent, so PostgreSQL's log (statements, errors) quoted
# respondents' tokens (SPEC §6). URLs written for psycopg2 keep working.
POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_SCHEMES = ("postgresql", "postgresql+psycopg2")


def engine_url(url: str) -> str:
    """The URL the state store opens: ``postgresql://`` and ``postgresql+psycopg2://`` go
    through psycopg 3 (``postgresql+psycopg://``); any other URL is returned as given."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in _POSTGRES_SCHEMES:
        return f"{POSTGRES_DRIVER}://{rest}"
    return url


_URL = re.compile(r"(?P<scheme>[\w+]+)://(?:(?P<user>[^:/]*)(?::[^@]*)?@)?(?P<rest>.*)", re.S)


def display_url(url: str) -> str:
    """``url`` as error messages name the state: as written, without its password (in the
    user part, as SQLAlchemy reads it, or as a ``password=`` query parameter)."""
    m = _URL.fullmatch(url)
    if m is None:
        return "(not a database URL)"  # nothing of it shown: it may hold a password
    user = f"{m['user']}@" if m["user"] is not None else ""
    rest, sep, query = m["rest"].partition("?")
    if sep:
        kept = [p for p in query.split("&") if p.split("=", 1)[0].lower() != "password"]
        rest += f"?{'&'.join(kept)}" if kept else ""
    return f"{m['scheme']}://{user}{rest}"
