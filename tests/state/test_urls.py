"""SQLite URLs taken apart in one place, as SQLAlchemy reads them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipeline.state.urls import display_url, engine_url, sqlite_file


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


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u:p@h:5432/db?sslmode=require",
         "postgresql+psycopg://u:p@h:5432/db?sslmode=require"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///state.db", "sqlite:///state.db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),  # not ours to change
    ],
)  # fmt: skip
def test_postgres_urls_go_through_psycopg3(url, expected):
    assert engine_url(url) == expected
    assert (
        sa.make_url(engine_url(url)).get_dialect().driver
        == sa.make_url(expected).get_dialect().driver
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://pipeline:s3%40cr:t@db/panel", "postgresql://pipeline@db/panel"),
        ("postgresql+psycopg2://pipeline:pw/x@db:5432/panel?options=-csearch_path%3Ds",
         "postgresql+psycopg2://pipeline@db:5432/panel?options=-csearch_path%3Ds"),
        ("postgresql://u@db/p?sslmode=require&password=pw&PASSWORD=pw",
         "postgresql://u@db/p?sslmode=require"),
        ("postgresql://db/p?password=pw", "postgresql://db/p"),
        ("sqlite:////abs/state.db", "sqlite:////abs/state.db"),
        ("sqlite://", "sqlite://"),
        ("user:pw@db/panel", "(not a database URL)"),
    ],
)  # fmt: skip
def test_display_url_drops_the_password(url, expected):
    assert display_url(url) == expected
    parsed = sa.make_url(url) if "://" in url else None
    if parsed is not None and parsed.password:  # SQLAlchemy reads the same user part
        assert sa.make_url(display_url(url)).username == parsed.username
