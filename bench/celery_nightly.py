"""Benchmark (not a test): a study's nightly job on two Celery workers, as deployed.

    python bench/celery_nightly.py [--postgres URL] [--days 40] [--per-day 3000] [--keep]

The deployment is configuration (README, Production): ``PIPELINE_EXECUTOR=celery`` makes
every job's executor dagster-celery's, with the broker of ``deploy/celery.yaml``; each
worker runs the command of ``deploy/systemd/dagster-celery-worker@.service``. This script
starts two such workers here (tests/celery_workers.py), runs the same synthetic study twice,
in-process (the reference) and on the workers, and prints seconds, the peak memory of the
whole process tree (this process and the workers), the ratio to the floor, which worker ran
which step, and whether the published files equal the reference's byte for byte (but the
run manifests). ``--postgres URL``: Dagster's storage and the study's state in two new
databases on that server (dropped afterwards), as on several machines. The correctness of
the same set-up is a test (tests/test_celery_rebuild.py); this measures it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from calibrate import machine_line  # noqa: E402  (bench/ is on sys.path)
from measure import Measured, TreePeak, floor_seconds, published_rows, report, run_child  # noqa: E402

from assets.definitions import CELERY_CONFIG_ENV, EXECUTOR_ENV  # noqa: E402
from assets.study import CONFIG_ENV, STUDIES_ENV  # noqa: E402
from tests.celery_workers import (  # noqa: E402
    CELERY_YAML,
    celery_workers,
    nightly_job_of_env,
    step_workers,
)

FIRST_DAY = date(2021, 6, 1)


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--per-day", type=int, default=3000)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server for storage+state")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    print(machine_line(), flush=True)
    from pipeline.panel.synth import generate_panel

    work = Path(tempfile.mkdtemp(prefix="bench-celery-"))
    databases: list[str] = []
    admin = None
    try:
        generate_panel(work / "exports", FIRST_DAY, args.days, args.per_day, seed=7)
        clock = f"{FIRST_DAY + timedelta(days=args.days + 1)}T12:00:00Z"
        env = {k: v for k, v in os.environ.items() if k != STUDIES_ENV}
        states = {"inprocess": None, "celery": None}
        home = work / "dagster_home"
        home.mkdir()
        if args.postgres:
            server = sa.make_url(args.postgres)
            admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            tag = f"celery_bench_{uuid.uuid4().hex[:8]}"
            databases = [f"{tag}_dagster", f"{tag}_state"]
            with admin.connect() as conn:
                for name in databases:
                    conn.execute(sa.text(f'create database "{name}"'))
            states["celery"] = server.set(database=databases[1]).render_as_string(False)
            shutil.copy(ROOT / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
            env.update({"DAGSTER_PG_HOST": server.host or "127.0.0.1",
                        "DAGSTER_PG_USER": server.username or "postgres",
                        "DAGSTER_PG_PASSWORD": server.password or "",
                        "DAGSTER_PG_DB": databases[0]})  # fmt: skip
        else:
            shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
        configs = {}
        for label, state in states.items():
            folder = work / label
            shutil.copytree(work / "exports", folder / "drop")
            configs[label] = folder / "demo.yaml"
            configs[label].write_text(yaml.safe_dump({
                "source": str(folder / "drop"), "publish": str(folder / "publish"),
                "cid_out": str(folder / "cids"), "archive": str(folder / "archive"),
                "state": state or f"sqlite:///{folder / 'state.db'}",
            }))  # fmt: skip
        n = args.days * args.per_day
        ref = run_child([sys.executable, "-m", "pipeline", "run", "--config",
                         str(configs["inprocess"]), "--as-of", clock], env=env)  # fmt: skip
        floor = floor_seconds(sorted((work / "exports").glob("*.csv*")),
                              published_rows(work / "inprocess" / "publish"))  # fmt: skip
        print(report("in-process run", n, ref, floor), flush=True)

        env.update({"DAGSTER_HOME": str(home), CONFIG_ENV: str(configs["celery"]),
                    EXECUTOR_ENV: "celery", CELERY_CONFIG_ENV: str(CELERY_YAML),
                    "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"})  # fmt: skip
        os.environ.clear()
        os.environ.update(env)
        from dagster import DagsterInstance, execute_job, reconstructable

        broker = yaml.safe_load(CELERY_YAML.read_text())["execution"]["config"]["broker"]
        with DagsterInstance.get() as instance, TreePeak() as peak:
            with celery_workers(("worker1", "worker2"), env, work, broker):
                t = time.perf_counter()
                config = {"resources": {"demo_study": {"config": {
                    "config_path": str(configs["celery"]), "as_of": clock}}}}  # fmt: skip
                result = execute_job(
                    reconstructable(nightly_job_of_env), instance, run_config=config
                )
                wall = time.perf_counter() - t
                ran = step_workers(instance, result.run_id)
        if not result.success:
            raise SystemExit(f"the Celery run failed; see {work}")
        print(report("Celery run (2 workers)", n, Measured(wall, peak.mb, 0), floor))
        for step, node in ran.items():
            print(f"  {step:<48} {node}")
        print(
            "steps per worker: " + ", ".join(f"{w}: {c}" for w, c in Counter(ran.values()).items())
        )
        for what in ("publish", "cids"):
            a, b = _tree(work / "celery" / what), _tree(work / "inprocess" / what)
            same = {k for k in a if not k.startswith("runs/")} == {
                k for k in b if not k.startswith("runs/")
            }
            differ = sorted(k for k in a if not k.startswith("runs/") and a[k] != b.get(k))
            print(f"{what}/: {'byte-identical' if same and not differ else f'DIFFERS: {differ[:5]}'}"
                  " to the in-process run (but runs/)")  # fmt: skip
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for name in databases:
                    conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
            admin.dispose()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
