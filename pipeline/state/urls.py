"""State-database URLs: the one place a SQLite URL is taken apart.

No SQLAlchemy import: the configuration and the command line's lock probe use it before
anything heavy is loaded. The rules are SQLAlchemy's (``make_url``), so the file named here
is the file the state store opens.
"""

from __future__ import annotations


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
