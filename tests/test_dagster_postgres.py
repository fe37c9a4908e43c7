"""Dagster's own storage in PostgreSQL (deploy/dagster-postgres.yaml) runs the nightly job."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.exports import response, write_export
from tests.plugins.databases import POSTGRES_URL
from tests.plugins.services import missing_service
from tests.study import Study

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dagster_pg_db():
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        missing_service(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}")
    name = f"dagster_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database "{name}" with (force)'))
        admin.dispose()


def test_nightly_job_on_postgres_instance(tmp_path, monkeypatch, dagster_pg_db):
    from dagster import DagsterInstance, DagsterRunStatus

    from assets.definitions import build_definitions
    from assets.study import load_study

    url = sa.engine.make_url(POSTGRES_URL)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_HOST", url.host or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_USER", url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    monkeypatch.setenv("DAGSTER_PG_DB", dagster_pg_db)
    study = Study(tmp_path / "study")
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        defs = build_definitions([load_study(study.config)])
        result = defs.resolve_job_def("config_nightly").execute_in_process(
            run_config={"resources": {"config_study": {"config": {
                "config_path": str(study.config), "as_of": "2021-06-02T12:00:00Z"}}}},
            instance=instance,
        )  # fmt: skip
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == DagsterRunStatus.SUCCESS
    assert study.daily() == ["cvid_responses_2021_06_01_recordedby_2021_06_02.csv"]
