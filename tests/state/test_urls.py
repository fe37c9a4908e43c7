"""SQLite URLs taken apart in one place, as SQLAlchemy reads them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipeline.state.urls import sqlite_file


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///state.db", "state.db"),
        ("sqlite:///data/state.db", "data/state.db"),
        ("sqlite:////abs/state.db", "/abs/state.db"),
        ("sqlite:///state.db?mode=ro", "state.db"),
        ("sqlite+pysqlite:///state.db", "state.db"),
        ("sqlite:///~/state.db", "~/state.db"),  # as written: no ~ expansion (neither has SQLite)
        ("sqlite://", None),
        ("sqlite:///", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///:memory:?cache=shared", None),
        ("postgresql+psycopg2://postgres@127.0.0.1:5432/test", None),
        ("postgresql://u@h/sqlite:///x.db", None),
        ("mysql://h/db", None),
        ("data/state.db", None),
        ("", None),
    ],
)
def test_sqlite_file(url, expected):
    assert sqlite_file(url) == expected


@pytest.mark.parametrize(
    "url",
    ["sqlite:///a.db", "sqlite:////tmp/a b.db", "sqlite:///a.db?x=1", "sqlite+pysqlite:///d/a.db",
     "sqlite://", "sqlite:///:memory:", "sqlite:///a%20b.db", "sqlite:///a#b.db"],
)  # fmt: skip
def test_the_file_is_the_one_sqlalchemy_opens(url):
    parsed = sa.make_url(url)
    database = parsed.database if parsed.database not in (None, "", ":memory:") else None
    assert sqlite_file(url) == database
