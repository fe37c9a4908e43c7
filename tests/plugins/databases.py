"""State-database fixtures: a fresh SQLite file and a fresh PostgreSQL schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.plugins.services import missing_service

POSTGRES_URL = os.environ.get(
    "PIPELINE_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a new SQLite state database in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of the test PostgreSQL database with a private, dropped-after schema."""
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not available"
        engine.dispose()
        missing_service(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request) -> str:
    """Each state-database test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")
