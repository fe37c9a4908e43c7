"""Issue 32, beyond one machine: a rebuild on Dagster's Celery executor, two workers,
RabbitMQ, PostgreSQL for Dagster's storage (deploy/dagster-postgres.yaml) and for the
study's state, with the deployment's own settings (``PIPELINE_EXECUTOR=celery``,
deploy/celery.yaml). Its published files equal those of the in-process rebuild of the same
study (SQLite state) byte for byte, but the per-run manifests."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from dagster import DagsterInstance, execute_job, reconstructable

from assets.definitions import CELERY_CONFIG_ENV, EXECUTOR_ENV
from assets.study import CONFIG_ENV, STUDIES_ENV
from pipeline.cli import main
from pipeline.panel.synth import generate_panel
from tests.celery_workers import (
    CELERY_YAML,
    ROOT,
    BrokerUnavailable,
    celery_workers,
    control_app,
    nightly_job_of_env,
    step_workers,
)
from tests.plugins.databases import POSTGRES_URL
from tests.plugins.services import missing_service
from tests.study import Study

CLOCK = "2021-07-12T12:00:00Z"  # the 40 days of June 1 - July 10 closed
WORKERS = ("worker1", "worker2")


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.relative_to(root).as_posix().startswith("runs/")
    }


@pytest.fixture
def dagster_database():
    """A new PostgreSQL database for Dagster's storage, dropped afterwards: its URL."""
    server = sa.make_url(POSTGRES_URL)
    name = f"celery_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'create database "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not there
        admin.dispose()
        missing_service(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}")
    try:
        yield server.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def test_a_rebuild_on_two_celery_workers_equals_the_in_process_rebuild(
    tmp_path, postgres_url, dagster_database, monkeypatch
):
    drop = tmp_path / "exports"
    generate_panel(drop, date(2021, 6, 1), 40, 12, seed=3)
    # small batches: the rebuild replays the archive in several; 40 days: two render shares
    options = {"batch_rows": 150, "reissue": "changed"}
    ref = Study(tmp_path / "inprocess", options=options)
    cel = Study(tmp_path / "celery", state=postgres_url, options=options)
    for study in (ref, cel):
        for export in drop.iterdir():
            shutil.copy2(export, study.drop / export.name)
        assert study.run(CLOCK) == 0
        # a rule change the rebuild brings to every day (SPEC §3.6)
        study.configure(rules={"min_answers": 3})
    assert main(["rebuild", "--config", str(ref.config), "--as-of", CLOCK]) == 0

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if k not in (STUDIES_ENV,)}
    env.update({
        "DAGSTER_HOME": str(home), CONFIG_ENV: str(cel.config),
        EXECUTOR_ENV: "celery", CELERY_CONFIG_ENV: str(CELERY_YAML),
        "DAGSTER_PG_HOST": dagster_database.host or "127.0.0.1",
        "DAGSTER_PG_USER": dagster_database.username or "postgres",
        "DAGSTER_PG_PASSWORD": dagster_database.password or "",
        "DAGSTER_PG_DB": dagster_database.database,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
    })  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(STUDIES_ENV, raising=False)
    broker = yaml.safe_load(CELERY_YAML.read_text())["execution"]["config"]["broker"]
    try:
        control_app(broker).close()
    except BrokerUnavailable as exc:
        missing_service(str(exc))
    with (
        DagsterInstance.get() as instance,
        celery_workers(WORKERS, env, tmp_path, broker) as running,
    ):
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        config = {"resources": {"config_study": {"config": {
            "config_path": str(cel.config), "as_of": CLOCK, "rebuild": True}}}}  # fmt: skip
        result = execute_job(reconstructable(nightly_job_of_env), instance, run_config=config)
        assert result.success
        ran = step_workers(instance, result.run_id)
    # every step was a Celery task, taken by one of the two workers
    assert ran and set(ran.values()) <= set(running.nodes.values())
    renders = [k for k in ran if "render_days[" in k]
    assert len(renders) == 2  # the 40 days rendered as two steps (31 + 9)
    # the same bytes as the in-process rebuild, every file but the run manifests
    assert _tree(cel.pub) == _tree(ref.pub)
    assert _tree(cel.cids) == _tree(ref.cids)
    assert any("CORRECTION" in line for line in (cel.pub / "OUTAGES.txt").read_text().splitlines())
    # and the same ledger (tokens on their CID lists included), PostgreSQL and SQLite
    assert _ledger(postgres_url) == _ledger(f"sqlite:///{ref.root / 'state.db'}")


def _ledger(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT * FROM ledger ORDER BY token").all()
    finally:
        engine.dispose()
    return [tuple(bool(v) if isinstance(v, bool) else v for v in row) for row in rows]
