"""Celery workers as a deployment runs them (deploy/celery.yaml), started on this machine
for the Celery test and benchmark: each is the command the deployment's systemd unit runs,

    dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml -n NAME -- -c 1

and the steps' workers are read back from the run's event log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from celery import Celery

ROOT = Path(__file__).resolve().parent.parent
CELERY_YAML = ROOT / "deploy" / "celery.yaml"
QUEUE = "dagster"  # dagster-celery's default queue: steps without a queue tag go there
BIN = Path(sys.executable).parent  # dagster-celery is installed next to this interpreter


def nightly_job_of_env():  # noqa: ANN201 - a JobDefinition; workers load it too
    """The nightly job of the study in ``PIPELINE_CONFIG``, with the deployment's executor
    (``PIPELINE_EXECUTOR``): what ``reconstructable`` hands the workers, who import this
    module to build the same job."""
    from assets.definitions import build_definitions
    from assets.study import load_studies

    study = load_studies()[0]
    return build_definitions([study]).resolve_job_def(study.job_name)


class BrokerUnavailable(RuntimeError):
    """The broker of the Celery settings cannot be reached."""


def control_app(broker: str) -> Celery:
    """A Celery client of the broker (to ping the workers)."""
    app = Celery(broker=broker)
    try:
        app.connection_for_write().ensure_connection(max_retries=2)
    except Exception as exc:  # kombu's OperationalError and socket errors alike
        raise BrokerUnavailable(f"broker {broker} unreachable: {exc.__class__.__name__}") from exc
    return app


@dataclass
class Workers:
    """Running workers: name -> process, and name -> Celery node name (name@host)."""

    procs: dict[str, subprocess.Popen]
    nodes: dict[str, str]

    def of_pid(self, pid: int) -> str | None:
        """Which of the workers' process groups ``pid`` belongs to (None: not ours)."""
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return None
        return next((name for name, p in self.procs.items() if p.pid == group), None)


@contextmanager
def celery_workers(
    names: tuple[str, ...], env: dict[str, str], logs: Path, broker: str,
    config_yaml: Path = CELERY_YAML,
) -> Iterator[Workers]:  # fmt: skip
    """Start the workers (each its own process group), wait until each answers a ping, and
    stop them on the way out whatever happened. Refuses to start when other workers consume
    the queue already: they would take steps of this run."""
    app = control_app(broker)
    procs: dict[str, subprocess.Popen] = {}
    nodes: dict[str, str] = {}
    try:
        queues = app.control.inspect(timeout=1.0).active_queues() or {}
        foreign = sorted(n for n, qs in queues.items() if any(q["name"] == QUEUE for q in qs))
        if foreign:
            raise RuntimeError(f"Celery workers already consume queue {QUEUE!r}: {foreign}")
        for name in names:
            with (logs / f"{name}.log").open("w") as log:
                procs[name] = subprocess.Popen(
                    [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                     "-y", str(config_yaml), "-n", name, "-l", "INFO", "--", "-c", "1"],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
        nodes.update(_wait_ready(app, procs, logs))
        yield Workers(procs, nodes)
    finally:
        _stop(procs, app, nodes)
        app.close()


def _wait_ready(app: Celery, procs: dict[str, subprocess.Popen], logs: Path) -> dict[str, str]:
    deadline = time.time() + 120
    while time.time() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"Celery worker {name} exited; see {logs / f'{name}.log'}")
        replies = app.control.ping(timeout=1.0)
        nodes = {node.split("@", 1)[0]: node for reply in replies for node in reply}
        if all(name in nodes for name in procs):
            return {name: nodes[name] for name in procs}
        time.sleep(1)
    raise RuntimeError(f"Celery workers not ready after 120 s; see {logs}/*.log")


def _stop(procs: dict[str, subprocess.Popen], app: Celery, nodes: dict[str, str]) -> None:
    """Celery's remote ``shutdown`` (warm: a step in progress finishes), then SIGTERM and
    SIGKILL to a worker's process group still running; nothing outlives the caller."""
    running = {n: p for n, p in procs.items() if p.poll() is None}
    with contextlib.suppress(Exception):  # the broker may be what failed
        if nodes:
            app.control.broadcast("shutdown", destination=[nodes[n] for n in running if n in nodes])
    for name, proc in running.items():
        steps = [(None, 30)] if name in nodes else []
        for sig, grace in [*steps, (signal.SIGTERM, 15), (signal.SIGKILL, 15)]:
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
            try:
                proc.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
    for proc in procs.values():  # the pool processes end after their leader
        for _ in range(30):
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def step_workers(instance, run_id: str) -> dict[str, str]:  # noqa: ANN001 - a DagsterInstance
    """Step key -> the Celery node that ran it (the executor's "Celery worker" engine
    event, sent by the worker as it takes the task)."""
    from dagster import DagsterEventType

    out: dict[str, str] = {}
    for rec in instance.all_logs(run_id):
        ev = rec.dagster_event
        if ev is None or ev.step_key is None or ev.event_type != DagsterEventType.ENGINE_EVENT:
            continue
        meta = ev.event_specific_data.metadata if ev.event_specific_data else {}
        if "Celery worker" in meta:
            out[ev.step_key] = str(meta["Celery worker"].value)
    return out
