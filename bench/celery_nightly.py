"""Scale-out over machines (not a test): a study's nightly job, its steps on two Celery workers.

    python bench/celery_nightly.py [--postgres URL] [--days 8] [--per-day 3000] [--work DIR] [--keep]

What it demonstrates (SPEC §7, "Celery ... executor with PostgreSQL storage, shown working"):

1. A demo panel study (``pipeline synth``: DAYS x PER_DAY responses) is built twice from the
   same exports, as two identical studies named ``demo`` in their own folders.
2. The first is run in-process (``python -m pipeline run --as-of CLOCK``), the reference.
3. A DAGSTER_HOME is made, with ``deploy/dagster.yaml`` (SQLite storage in it) or, with
   ``--postgres URL``, ``deploy/dagster-postgres.yaml``: the Dagster instance in a new
   database on that server, and the Celery study's state in another (both dropped after a
   successful demonstration; the reference keeps SQLite, so the comparison below also holds
   across state backends). Two Celery workers are started, each with the command of
   ``deploy/celery.yaml``::

       dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml -n workerN -- -c 1

4. One Dagster run of the second study's ``demo_nightly`` job (raw_exports ->
   normalized_responses -> eligible_responses -> response_ledger -> lag_policy ->
   day_partitions -> published_files) is executed with ``dagster_celery.celery_executor``
   (run config ``execution`` from ``deploy/celery.yaml``, the study resource configured with
   the same clock). Each step is one Celery task: a worker loads the job by reference
   (:func:`nightly_celery_job`, with ``PIPELINE_CONFIG`` naming the study), runs the step and
   reads its inputs from the step before, which another worker may have run, in the study's
   work folder (``StageIOManager``).
5. The script prints which worker ran which step (the executor's "Celery worker" engine
   event; host, pid and seconds from the run's event log), the steps per worker and the wall
   time; checks that every published file is listed in SHA256SUMS with its hash, and that the
   published files (and CID lists) equal the in-process run's byte for byte, except the run
   manifests (``runs/*.json``, named and stamped per run) and SHA256SUMS (which lists them);
   then stops the workers (also when something failed).

Here both workers are on this machine, so local folders (and SQLite) are shared by all. On
several machines every worker runs the same command, with the same code and Python
environment, against a broker all can reach (``execution.config.broker``), and needs shared:

* the Dagster instance: ``deploy/dagster-postgres.yaml`` as ``$DAGSTER_HOME/dagster.yaml``
  (PostgreSQL run and event-log storage; the workers write step events into it);
* the study's state database: ``state: postgresql://...`` (its run and day locks become
  PostgreSQL advisory locks, held across machines);
* the source and publish locations: SFTP (``sftp://...``), or one shared file system;
* the study's work folder (``{archive}/_work``), where each step leaves its result for the
  next step: the archive on a shared file system (NFS or similar) mounted at the same path.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from celery import Celery
from dagster import DagsterEventType, DagsterInstance, JobDefinition, execute_job, reconstructable
from dagster_celery import celery_executor

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # dagster-celery is installed next to this interpreter
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assets.definitions import study_definitions  # noqa: E402
from assets.study import CONFIG_ENV, STUDIES_ENV, load_study  # noqa: E402

STUDY = "demo"  # the configuration file's stem: the study's name
WORKERS = ("worker1", "worker2")
QUEUE = "dagster"  # dagster-celery's default queue: steps without a queue tag go there
FIRST_DAY = date(2021, 6, 1)

# dagster-celery registers its task on the app again for every step it submits; recent Celery
# (5.7 here) warns about the duplicate name. The callable is the same code each time, so it is harmless.
warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")


# ---------------------------------------------------------------------------- the job


def nightly_celery_job() -> JobDefinition:
    """The nightly job of the study named by ``PIPELINE_CONFIG``, with the Celery executor.

    Module level, so ``reconstructable`` can point at it: every worker loads this file and
    calls it to build the same job (the executor only ships a reference, never the job).
    """
    study = load_study(os.environ[CONFIG_ENV])
    job = study_definitions(study).resolve_job_def(study.job_name)
    return job.with_executor_def(celery_executor)


# ---------------------------------------------------------------------------- the studies


def make_studies(
    work: Path, days: int, per_day: int, seed: int, celery_state: str | None
) -> dict[str, Path]:
    """The same exports as two identical studies: {"inprocess": config, "celery": config};
    ``celery_state``: the Celery study's state database (default: SQLite in its folder)."""
    drop = work / "exports"
    subprocess.run(
        [sys.executable, "-m", "pipeline", "synth", "--kind", "panel", "--out", str(drop),
         "--start", FIRST_DAY.isoformat(), "--days", str(days), "--per-day", str(per_day),
         "--seed", str(seed)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    configs = {}
    for label in ("inprocess", "celery"):
        folder = work / label
        state = f"sqlite:///{folder / 'state.db'}"
        if label == "celery" and celery_state:
            state = celery_state
        shutil.copytree(drop, folder / "drop")  # copy2: the same names, sizes and mtimes
        config = folder / f"{STUDY}.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "kind": "panel",
                    "source": str(folder / "drop"),
                    "publish": str(folder / "publish"),
                    "cid_out": str(folder / "cids"),
                    "archive": str(folder / "archive"),  # the work folder is archive/_work
                    "state": state,
                    "timezone": "America/Los_Angeles",
                },
                sort_keys=False,
            )
        )
        configs[label] = config
    return configs


def run_in_process(config: Path, as_of: str, env: dict[str, str]) -> Any:
    """The reference: the command-line nightly run (in-process executor), measured
    (``measure.Measured``)."""
    from measure import run_child  # bench/, the script's folder, is on sys.path

    measured = run_child(
        [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--as-of", as_of],
        stdout=subprocess.DEVNULL, env={**env, CONFIG_ENV: str(config)},
    )  # fmt: skip
    if measured.returncode:
        raise SystemExit(f"the in-process run failed with exit code {measured.returncode}")
    return measured


def make_dagster_home(work: Path, postgres: bool) -> Path:
    """A DAGSTER_HOME with deploy/dagster.yaml (SQLite storage in it: one machine only) or
    deploy/dagster-postgres.yaml (PostgreSQL named by DAGSTER_PG_*: any number of machines)."""
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    source = "dagster-postgres.yaml" if postgres else "dagster.yaml"
    shutil.copy(ROOT / "deploy" / source, home / "dagster.yaml")
    return home


def create_databases(url: str, names: list[str]) -> list[sa.URL]:
    """New, empty databases on the PostgreSQL server of ``url``: their URLs."""
    server = sa.make_url(url)
    if (server.port or 5432) != 5432:  # deploy/dagster-postgres.yaml names port 5432
        raise SystemExit(f"--postgres: port {server.port}; deploy/dagster-postgres.yaml uses 5432")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")  # CREATE DATABASE needs it
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'create database "{name}"'))
    finally:
        admin.dispose()
    return [server.set(database=name) for name in names]


def drop_databases(url: str, names: list[str]) -> None:
    """Drop the databases (``with (force)``: a connection left behind does not stop it)."""
    admin = sa.create_engine(sa.make_url(url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    finally:
        admin.dispose()


def dagster_pg_env(url: sa.URL) -> dict[str, str]:
    """The DAGSTER_PG_* variables deploy/dagster-postgres.yaml reads, for database ``url``."""
    return {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": url.database or "",
    }


# ---------------------------------------------------------------------------- the workers


def control_app(broker: str) -> Celery:
    """A Celery client of the broker (to ping the workers); a clear error when it is down."""
    app = Celery(broker=broker)
    try:
        app.connection_for_write().ensure_connection(max_retries=2)
    except Exception as exc:  # kombu's OperationalError and socket errors alike
        raise SystemExit(
            f"broker {broker} unreachable ({exc}); start it, e.g. `rabbitmq-server -detached`"
        ) from exc
    return app


def refuse_foreign_workers(app: Celery) -> None:
    """Workers already consuming our queue would take steps of this run (with other code,
    perhaps): stop rather than mix them in."""
    queues = app.control.inspect(timeout=1.0).active_queues() or {}
    foreign = sorted(node for node, qs in queues.items() if any(q["name"] == QUEUE for q in qs))
    if foreign:
        raise SystemExit(f"Celery workers already consume queue {QUEUE!r}: {', '.join(foreign)}")


def start_workers(
    work: Path, config_yaml: Path, env: dict[str, str], procs: dict[str, subprocess.Popen]
) -> None:
    """Start the workers (each its own process group, entered in ``procs`` at once, so they
    are stopped even when a later one fails to start)."""
    for name in WORKERS:
        log = open(work / f"{name}.log", "w")  # noqa: SIM115 (the child keeps it)
        procs[name] = subprocess.Popen(
            [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
             "-y", str(config_yaml), "-n", name, "-l", "INFO", "--", "-c", "1"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()


def wait_ready(app: Celery, work: Path, procs: dict[str, subprocess.Popen]) -> dict[str, str]:
    """Wait until every worker answers a ping; returns name -> Celery node name (name@host)."""
    deadline = time.time() + 120
    while time.time() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"Celery worker {name} exited; see {work / f'{name}.log'}")
        replies = app.control.ping(timeout=1.0)
        nodes = {node.split("@", 1)[0]: node for reply in replies for node in reply}
        if all(name in nodes for name in procs):
            return {name: nodes[name] for name in procs}
        time.sleep(1)
    raise RuntimeError(f"Celery workers not ready after 120 s; see {work}/worker*.log")


def stop_workers(
    procs: dict[str, subprocess.Popen], app: Celery | None, nodes: dict[str, str]
) -> None:
    """Celery's remote ``shutdown`` (a warm shutdown: a step in progress finishes, the worker
    exits 0, as ``dagster-celery worker terminate`` does); SIGTERM to a worker's process group
    if it has not answered (not ready yet, broker gone) or is still running after 30 s, and
    SIGKILL 15 s later."""
    running = {name: proc for name, proc in procs.items() if proc.poll() is None}
    told: set[str] = set()
    if app is not None and nodes:
        try:
            app.control.broadcast("shutdown", destination=[nodes[n] for n in running if n in nodes])
            told = set(nodes)
        except Exception as exc:  # the broker may be what failed
            print(f"remote shutdown failed ({exc}); signalling the workers")
    for name, proc in running.items():
        # A worker that did not get the broadcast is signalled at once.
        steps = [(None, 30)] if name in told else []
        for sig, grace in [*steps, (signal.SIGTERM, 15), (signal.SIGKILL, 15)]:
            if sig is not None:
                print(f"{name}: still running, sending {sig.name} to its process group")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
            try:
                proc.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
    # The group's other processes (celery's pool process, the pipeline's helper processes,
    # which exit when their parent does) end after the leader: nothing outlives the script.
    for proc in procs.values():
        for _ in range(30):
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


# ---------------------------------------------------------------------------- the run


@dataclass
class StepFact:
    """What the run's event log says about one step."""

    key: str
    node: str = "?"  # the Celery worker (name@host) that ran it
    pid: int = 0  # the process that ran it (a worker's pool process)
    submitted: float = 0.0  # the task was sent to the broker
    started: float = 0.0
    ended: float = 0.0
    status: str = "not run"

    @property
    def seconds(self) -> float:
        return self.ended - self.started if self.ended else 0.0

    @property
    def wait(self) -> float:
        """From submission to the step's start: broker, pickup, loading the job."""
        return self.started - self.submitted if self.started and self.submitted else 0.0


def run_on_celery(config: Path, as_of: str, execution: dict[str, Any]) -> tuple[str, bool, float]:
    """One run of the nightly job with the Celery executor: (run id, success, seconds)."""
    study = load_study(config)
    run_config = {
        "execution": {"config": execution},
        "resources": {study.resource_key: {"config": {"config_path": str(config), "as_of": as_of}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    t = time.perf_counter()
    # Not `with execute_job(...)`: opening the result re-initializes the job's resources in
    # this process (to read outputs), and the study resource would take the state's run lock.
    result = execute_job(
        reconstructable(nightly_celery_job), instance=DagsterInstance.get(), run_config=run_config
    )
    return result.run_id, result.success, time.perf_counter() - t


def step_facts(run_id: str, plan: list[str]) -> list[StepFact]:
    """Per step, in order of start (then of ``plan``, the step keys in dependency order):
    the worker, pid, times and outcome (from the run's event log)."""
    facts: dict[str, StepFact] = {}
    for rec in DagsterInstance.get().all_logs(run_id):
        ev = rec.dagster_event
        if ev is None or ev.step_key is None:
            continue
        fact = facts.setdefault(ev.step_key, StepFact(ev.step_key))
        if ev.event_type == DagsterEventType.ENGINE_EVENT:
            meta = ev.event_specific_data.metadata if ev.event_specific_data else {}
            if "Celery worker" in meta:  # sent by the worker as it takes the task
                fact.node = str(meta["Celery worker"].value)
            elif ev.message and ev.message.startswith("Submitting celery task"):
                fact.submitted = rec.timestamp
        elif ev.event_type == DagsterEventType.STEP_START:
            fact.started, fact.pid = rec.timestamp, ev.pid or 0
        elif ev.event_type == DagsterEventType.STEP_SKIPPED:
            fact.status = "skipped"
        elif ev.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            fact.ended = rec.timestamp
            fact.status = ev.event_type.value.removeprefix("STEP_").lower()
            if ev.event_type == DagsterEventType.STEP_FAILURE and ev.step_failure_data:
                print(f"{ev.step_key} failed:\n{ev.step_failure_data.error.to_string()}")
    for fact in facts.values():
        if fact.node != "?" and not fact.ended:  # the task raised before the step began
            fact.status = "error in worker"
    rank = {key: i for i, key in enumerate(plan)}
    return sorted(facts.values(), key=lambda f: (f.started or float("inf"), rank.get(f.key, 0)))


def worker_of_pid(pid: int, procs: dict[str, subprocess.Popen]) -> str:
    """Which of our workers' process groups ``pid`` belongs to (workers still running)."""
    if not pid:
        return "-"
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return "gone"
    return next((name for name, proc in procs.items() if proc.pid == group), "not ours")


def report_steps(facts: list[StepFact], procs: dict[str, subprocess.Popen]) -> Counter[str]:
    """Print the table of steps; returns the steps per Celery worker."""
    print(
        f"{'step':<28} {'Celery worker':<22} {'host':<14} {'pid':>7} {'group':<9} "
        f"{'queued s':>8} {'run s':>6}  outcome"
    )  # fmt: skip
    for f in facts:
        host = f.node.split("@", 1)[1] if "@" in f.node else "?"
        print(
            f"{f.key:<28} {f.node:<22} {host:<14} {f.pid:>7} {worker_of_pid(f.pid, procs):<9} "
            f"{f.wait:>8.2f} {f.seconds:>6.2f}  {f.status}"
        )  # fmt: skip
    return Counter(f.node for f in facts)


# ---------------------------------------------------------------------------- the results


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``root``."""
    return {p.relative_to(root).as_posix(): sha256(p) for p in root.rglob("*") if p.is_file()}


def per_run(name: str) -> bool:
    """Files that differ between two runs by design: the run manifest (its name and body
    carry the run id) and SHA256SUMS (it lists the manifest)."""
    return name.startswith("runs/")


def verify_sums(publish: Path) -> int:
    """Every file the SHA256SUMS files list exists with that hash, and every file is listed."""
    from pipeline import checksums
    from pipeline.locations.local import LocalLocation

    listed = checksums.read(LocalLocation(publish))
    files = {n: sha for n, sha in tree(publish).items() if not checksums.is_sums(n)}
    if files != listed:
        bad = sorted(set(files.items()) ^ set(listed.items()))
        raise SystemExit(f"{publish}: SHA256SUMS does not match the files: {bad[:5]}")
    return len(listed)


def compare(ours: Path, reference: Path) -> tuple[int, int]:
    """Byte-for-byte comparison of two published trees, but the per-run files, whose
    SHA256SUMS must agree on everything else: (files compared, per-run files)."""
    a, b = tree(ours), tree(reference)
    names = {k for k in a if not per_run(k)}
    if names != {k for k in b if not per_run(k)}:
        raise SystemExit(f"different files: {sorted(names ^ {k for k in b if not per_run(k)})}")
    differ = sorted(k for k in names if a[k] != b[k])
    if differ:
        raise SystemExit(f"{len(differ)} files differ from the in-process run: {differ[:10]}")
    return len(names), len(a) - len(names)


# ---------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--per-day", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--config-yaml", type=Path, default=ROOT / "deploy" / "celery.yaml")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/postgres)"
        ": the Dagster instance and the study's state go in two new databases on it",
    )
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (and databases)")
    args = parser.parse_args()
    # A SIGTERM (say, a timeout) unwinds like Ctrl-C, through the `finally` that stops the
    # workers; otherwise they would outlive the script.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from calibrate import machine_line  # bench/, the script's folder, is on sys.path
    from measure import Measured, TreePeak, floor_seconds, published_rows, report

    execution = yaml.safe_load(args.config_yaml.read_text())["execution"]["config"]
    # The clock: noon UTC the day after the last exported day (both runs use it).
    as_of = datetime.combine(FIRST_DAY + timedelta(days=args.days), dtime(12), UTC)
    clock = as_of.isoformat().replace("+00:00", "Z")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-celery-"))
    work.mkdir(parents=True, exist_ok=True)
    print(machine_line())
    print(f"{os.cpu_count()} cores; broker {execution['broker']}; work folder {work}")

    databases: list[str] = []
    procs: dict[str, subprocess.Popen] = {}
    app: Celery | None = None
    nodes: dict[str, str] = {}  # worker name -> Celery node name, once it answered a ping
    done = False  # a failed demonstration keeps its work folder (and databases) to look into
    try:
        # The code location's variables: PIPELINE_CONFIG names the study (the workers'
        # nightly_celery_job reads it); a PIPELINE_STUDIES of the caller must not win.
        env = {k: v for k, v in os.environ.items() if k not in (STUDIES_ENV, "DAGSTER_HOME")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
        state_url = None
        if args.postgres:
            tag = f"celery_demo_{uuid.uuid4().hex[:8]}"
            databases = [f"{tag}_dagster", f"{tag}_state"]
            instance_db, state_db = create_databases(args.postgres, databases)
            env.update(dagster_pg_env(instance_db))
            state_url = state_db.render_as_string(hide_password=False)
            print(f"PostgreSQL: Dagster instance in {databases[0]}, the study's state in "
                  f"{databases[1]} ({instance_db.host})")  # fmt: skip
        configs = make_studies(work, args.days, args.per_day, args.seed, state_url)
        print(f"study {STUDY!r}: {args.days} days x {args.per_day} responses, clock {clock}")
        inprocess = run_in_process(configs["inprocess"], clock, env)
        responses = args.days * args.per_day
        ref_folder = configs["inprocess"].parent
        floor = floor_seconds(
            sorted((ref_folder / "drop").glob("*.csv*")), published_rows(ref_folder / "publish")
        )
        print(report("in-process run (python -m pipeline run, SQLite state)", responses,
                     inprocess, floor))  # fmt: skip

        home = make_dagster_home(work, postgres=bool(args.postgres))
        env.update({"DAGSTER_HOME": str(home), CONFIG_ENV: str(configs["celery"])})
        os.environ.pop(STUDIES_ENV, None)
        os.environ.update(env)  # this process orchestrates the run: the workers' settings
        with DagsterInstance.get() as instance:  # create the storage before the workers
            storage = type(instance.run_storage).__name__
        print(f"DAGSTER_HOME {home}: {storage}")

        app = control_app(execution["broker"])
        refuse_foreign_workers(app)
        t = time.perf_counter()
        start_workers(work, args.config_yaml, env, procs)
        nodes.update(wait_ready(app, work, procs))
        print(
            f"{len(nodes)} Celery workers ready in {time.perf_counter() - t:.1f} s: "
            f"{', '.join(nodes.values())} (concurrency 1 each, queue {QUEUE!r})"
        )

        with TreePeak() as peak:  # this process and the workers it started
            run_id, ok, wall = run_on_celery(configs["celery"], clock, execution)
        job = nightly_celery_job()
        facts = step_facts(run_id, [node.name for node in job.nodes_in_topological_order])
        outcome = "success" if ok else "FAILURE"
        print(f"run {run_id}: {job.name} on celery_executor, {outcome}, {len(facts)} steps")
        per_worker = report_steps(facts, procs)
        print("steps per worker: " + ", ".join(f"{w}: {n}" for w, n in sorted(per_worker.items())))
        if not ok:
            raise SystemExit(f"the run failed; see DAGSTER_HOME={home} and {work}/worker*.log")
        print(report("Celery run", responses, Measured(wall, peak.mb, 0), floor))
        busy, queued = sum(f.seconds for f in facts), sum(f.wait for f in facts)
        print(
            f"wall {wall:.1f} s: {busy:.1f} s running steps (one at a time: the stages are "
            f"sequential), {queued:.1f} s from submitting a task to its step's start (broker, "
            f"pickup, loading the job on a worker's first task), {wall - busy - queued:.1f} s "
            "orchestration (the executor polls its tasks once a second; run start and end)"
        )
        outside = [f.key for f in facts if worker_of_pid(f.pid, procs) not in procs]
        if outside or set(per_worker) - set(nodes.values()):
            raise SystemExit(f"steps ran outside our workers: {outside or dict(per_worker)}")

        celery_root, ref_root = configs["celery"].parent, configs["inprocess"].parent
        listed = verify_sums(celery_root / "publish")
        days = len(list((celery_root / "publish").glob("*_recordedby_*")))
        print(
            f"published: {listed} files listed in SHA256SUMS, all present with their hashes "
            f"({days} day files)"
        )
        for what in ("publish", "cids"):
            n, per_run_files = compare(celery_root / what, ref_root / what)
            note = " (but runs/*.json; SHA256SUMS equal but for its runs/ line)"
            print(
                f"{what}/: {n} files byte-identical to the in-process run"
                + (note if per_run_files else "")
            )
        if len(per_worker) < 2:
            print("note: one worker took every step (the broker's choice); still a Celery run")
        done = True
    finally:
        stopping = bool(procs)
        stop_workers(procs, app, nodes)
        if stopping:
            codes = ", ".join(f"{n}: {p.returncode}" for n, p in procs.items())
            print(f"Celery workers stopped (exit codes {codes})")
        if app is not None:
            app.close()
        if done and not args.keep:
            if databases:
                drop_databases(args.postgres, databases)
            if not args.work:
                shutil.rmtree(work, ignore_errors=True)
        elif databases or not args.work:
            print(f"kept: work folder {work}" + (f", databases {databases}" if databases else ""))


if __name__ == "__main__":
    main()
