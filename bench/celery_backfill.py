"""Scale-out over machines (not a test): the 30-day re-publication on two Celery workers.

    python bench/celery_backfill.py [--config-yaml deploy/celery.yaml] [--work DIR] [--keep]

Builds the demo study of ``bench/scaleout_backfill.py`` (32 days of panel exports, one nightly
run), starts two Celery workers with

    dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml -n workerN -- -c 1

(RabbitMQ on 127.0.0.1:5672 by default; the broker is the YAML's ``execution.config.broker``),
then executes one Dagster run of the per-day job (30 independent steps: render, check and
publish one day) with ``dagster_celery.celery_executor`` configured from the same YAML. Each
step is a Celery task; the script prints which worker ran which day (the executor's "Celery
worker" engine event, plus the host and pid the step recorded), the steps per worker, the CPU
use per core and the speed-up, then stops the workers. Here both workers are on this machine;
on several machines each one runs the same command against the shared broker.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml
from dagster import DagsterInstance
from dagster_celery import celery_executor

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scaleout_backfill import (  # noqa: E402
    BIN,
    ROOT,
    _max_overlap,
    build_days_job,
    make_dagster_home,
    make_study,
    report_speedup,
    run_job,
    step_facts,
)

WORKERS = ("worker1", "worker2")


def days_job_celery():
    return build_days_job(celery_executor, name="republish_30_days_celery")


def start_workers(work: Path, config_yaml: Path, env: dict, procs: list) -> None:
    """Start the workers (appended to `procs` at once, so they are stopped even on failure)."""
    for name in WORKERS:
        log = open(work / f"{name}.log", "w")  # noqa: SIM115 (the worker owns it)
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "dagster-celery"),
                    "worker",
                    "start",
                    "-A",
                    "dagster_celery.app",
                    "-y",
                    str(config_yaml),
                    "-n",
                    name,
                    "-l",
                    "INFO",
                    "--",
                    "-c",
                    "1",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        )
    deadline = time.time() + 90
    while time.time() < deadline:
        logs = [(work / f"{name}.log").read_text() for name in WORKERS]
        if all(" ready." in text for text in logs):
            print(f"2 Celery workers ready: {', '.join(WORKERS)} (concurrency 1 each)")
            return
        for proc, name in zip(procs, WORKERS, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"Celery worker {name} exited; see {work / f'{name}.log'}")
        time.sleep(1)
    raise RuntimeError(f"Celery workers not ready after 90 s; see {work}/worker*.log")


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # Celery's warm shutdown
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for _ in range(30):  # the celery processes of the group finish their warm shutdown
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-yaml", type=Path, default=ROOT / "deploy" / "celery.yaml")
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    execution = yaml.safe_load(args.config_yaml.read_text())["execution"]["config"]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-celery-"))
    print(f"{os.cpu_count()} cores; broker {execution['broker']}; work folder {work}")
    procs: list[subprocess.Popen] = []
    try:
        config = make_study(work)
        home = make_dagster_home(work)
        os.environ["DAGSTER_HOME"] = str(home)
        DagsterInstance.get().get_run_records(limit=1)  # create the SQLite storage before workers
        env = {
            **os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }  # fmt: skip
        start_workers(work, args.config_yaml, env, procs)
        run_id, sampler, t0, t1 = run_job(days_job_celery, config, execution)
        facts = step_facts(run_id)
        print(f"run {run_id}: celery_executor, {len(facts)} steps")
        print(f"{'step':<22} {'Celery worker':<22} {'host':<14} {'pid':>7} {'seconds':>8}")
        for key in sorted(facts):
            f = facts[key]
            print(
                f"{key:<22} {f.get('celery_worker', '?'):<22} {f.get('host', '?'):<14} "
                f"{f.get('pid', 0):>7} {f.get('seconds', 0.0):>8.2f}"
            )  # fmt: skip
        per_worker = Counter(f.get("celery_worker", "?") for f in facts.values())
        print("steps per worker: " + ", ".join(f"{w}: {n}" for w, n in sorted(per_worker.items())))
        spans = [(f["start"], f["end"]) for f in facts.values() if "end" in f]
        print(f"at most {_max_overlap(spans)} steps were in progress at the same moment")
        sampler.report()
        report_speedup("step", t1 - t0, [e - s for s, e in spans])
        if len(per_worker) < 2:
            raise SystemExit("only one worker took steps")
    finally:
        stop_workers(procs)
        if procs:
            print("Celery workers stopped")
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
