"""Scale-out benchmark (not a test): a 30-day backfill runs its days in parallel on both cores.

    python bench/scaleout_backfill.py [--mode daemon|executor] [--work DIR] [--keep]

Builds a demo study (`pipeline synth`, 32 days x 3000 responses, then one nightly `run` at
2021-07-05T12:00Z), then re-publishes 2021-06-01..2021-06-30 in parallel:

* ``--mode daemon`` (default): a real Dagster backfill. A DAGSTER_HOME with
  ``deploy/dagster.yaml`` (run queue limited to 2, one per core), ``dagster-daemon run`` in the
  background, and ``dagster job backfill -j republish_days`` (the code location's per-day job):
  one run process per partition, two at a time.
* ``--mode executor``: one Dagster run of a job with one independent step per day
  (`render_day` + the day's data check + `publish_rendered_day`, as the per-day assets do),
  executed by ``multiprocess_executor`` with ``max_concurrent: 2``.

While the backfill runs, /proc/stat is sampled; the script prints the CPU utilisation of each
core, the wall time and the sum of the per-run (per-step) times: their ratio is the parallel
speed-up (> 1 means the days really ran side by side). ``bench/celery_backfill.py`` reuses
the study builder, the sampler and the per-day job of this file.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dagster import (  # noqa: E402
    DagsterEventType,
    DagsterInstance,
    Failure,
    GraphDefinition,
    JobDefinition,
    Output,
    execute_job,
    multiprocess_executor,
    op,
    reconstructable,
)

from pipeline.checks import check_day_files  # noqa: E402
from pipeline.panel.republish import publish_rendered_day, render_day  # noqa: E402
from resources.study import StudyResource  # noqa: E402

FIRST, LAST = date(2021, 6, 1), date(2021, 6, 30)
DAYS = [(FIRST + timedelta(days=i)).isoformat() for i in range((LAST - FIRST).days + 1)]
AS_OF = "2021-07-05T12:00:00Z"


# ---------------------------------------------------------------------------- the demo study


def make_study(work: Path) -> Path:
    """Synthesize 32 days of panel exports, run one night; returns the configuration file."""
    work.mkdir(parents=True, exist_ok=True)
    py = [sys.executable, "-m", "pipeline"]
    subprocess.run(
        [*py, "synth", "--kind", "panel", "--out", str(work / "drop"), "--start", "2021-06-01",
         "--days", "32", "--per-day", "3000"],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    config = work / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "panel",
                "source": str(work / "drop"),
                "publish": str(work / "publish"),
                "cid_out": str(work / "cids"),
                "archive": str(work / "archive"),
                "state": f"sqlite:///{work / 'state.db'}",
                "timezone": "America/Los_Angeles",
            }
        )  # fmt: skip
    )
    t = time.perf_counter()
    subprocess.run(
        [*py, "run", "--config", str(config), "--as-of", AS_OF],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print(f"demo study in {work}: nightly run at {AS_OF} took {time.perf_counter() - t:.1f} s")
    return config


def make_dagster_home(work: Path, max_concurrent_runs: int = 2) -> Path:
    """A DAGSTER_HOME holding deploy/dagster.yaml with the run queue limited to the cores."""
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    settings["concurrency"]["runs"]["max_concurrent_runs"] = max_concurrent_runs
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return home


# ---------------------------------------------------------------------------- CPU sampling


def _read_cpu_times() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per line of /proc/stat ("cpu" = all cores, "cpu0", "cpu1", ...)."""
    out = {}
    with open("/proc/stat") as fh:
        for line in fh:
            if not line.startswith("cpu"):
                break
            name, *fields = line.split()
            values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            idle = values[3] + values[4]
            out[name] = (sum(values) - idle, sum(values))
    return out


class CpuSampler:
    """Samples /proc/stat every `interval` seconds in a thread; `report()` prints per-core use."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[tuple[float, dict[str, tuple[int, int]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), _read_cpu_times()))
            self._stop.wait(self.interval)
        self.samples.append((time.monotonic(), _read_cpu_times()))

    def __enter__(self) -> "CpuSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def utilisation(self) -> dict[str, float]:
        """Mean busy share (0..1) of each CPU over the sampled window."""
        (_, first), (_, last) = self.samples[0], self.samples[-1]
        return {
            name: (last[name][0] - first[name][0]) / max(1, last[name][1] - first[name][1])
            for name in last
        }

    def both_busy_share(self, threshold: float = 0.5) -> float:
        """Share of sampling intervals in which every core was at least `threshold` busy."""
        cores = [n for n in self.samples[0][1] if n != "cpu"]
        hits = n = 0
        for (_, a), (_, b) in zip(self.samples, self.samples[1:], strict=False):
            n += 1
            hits += all(
                (b[c][0] - a[c][0]) / max(1, b[c][1] - a[c][1]) >= threshold for c in cores
            )  # fmt: skip
        return hits / max(1, n)

    def report(self) -> None:
        util = self.utilisation()
        cores = sorted((n for n in util if n != "cpu"), key=lambda n: int(n[3:]))
        print(f"CPU utilisation over the backfill ({len(self.samples)} samples of /proc/stat):")
        for name in cores:
            print(f"  {name:<5} {100 * util[name]:5.1f} % busy")
        print(f"  total {100 * util['cpu']:5.1f} % of {len(cores)} cores")
        print(
            f"  intervals with every core >= 50 % busy: {100 * self.both_busy_share():.0f} %"
        )  # fmt: skip


def report_speedup(label: str, wall: float, durations: list[float]) -> float:
    total = sum(durations)
    speedup = total / wall if wall else 0.0
    print(
        f"{label}: {len(durations)} done, wall {wall:.1f} s, sum of per-{label} times "
        f"{total:.1f} s (mean {total / max(1, len(durations)):.1f} s) -> speed-up {speedup:.2f}x"
    )  # fmt: skip
    return speedup


# ---------------------------------------------------------------------------- (a) daemon backfill


def run_daemon_backfill(work: Path, config: Path) -> None:
    """`dagster job backfill` of `republish_days` for 30 days, runs launched by the daemon."""
    home = make_dagster_home(work)
    env = {
        **os.environ, "DAGSTER_HOME": str(home), "PIPELINE_CONFIG": str(config),
        "PIPELINE_PARTITIONS_START": DAYS[0], "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }  # fmt: skip
    log = open(work / "daemon.log", "w")  # noqa: SIM115 (closed below)
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        os.environ["DAGSTER_HOME"] = str(home)
        instance = DagsterInstance.get()
        with CpuSampler() as sampler:
            t0 = time.time()
            subprocess.run(
                [str(BIN / "dagster"), "job", "backfill", "-w", str(ROOT / "workspace.yaml"),
                 "-j", "republish_days", "--from", DAYS[0], "--to", DAYS[-1], "--noprompt"],
                cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            print(f"backfill of {len(DAYS)} partitions submitted in {time.time() - t0:.1f} s")
            deadline = time.time() + 900
            while time.time() < deadline:
                records = instance.get_run_records()
                done = [r for r in records if r.dagster_run.is_finished]
                if len(records) >= len(DAYS) and len(done) == len(records):
                    break
                if daemon.poll() is not None:
                    raise RuntimeError(f"dagster-daemon exited; see {work / 'daemon.log'}")
                time.sleep(1)
            else:
                raise RuntimeError("backfill did not finish within 15 minutes")
        records = instance.get_run_records()
        statuses = sorted({r.dagster_run.status.value for r in records})
        print(f"{len(records)} runs, statuses {statuses}")
        start = min(r.start_time for r in records if r.start_time)
        end = max(r.end_time for r in records if r.end_time)
        durations = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
        overlap = _max_overlap([(r.start_time, r.end_time) for r in records if r.end_time])
        print(f"at most {overlap} runs were in progress at the same moment")
        sampler.report()
        report_speedup("run", end - start, durations)
        print(f"(submit to last run done: {end - t0:.1f} s, includes the daemon's queue polling)")
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
        log.close()


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = cur = 0
    for _, delta in events:
        cur += delta
        best = max(best, cur)
    return best


# ---------------------------------------------------------------------------- (b) one job, 30 steps


def _day_op(day: str):
    @op(name=f"republish_{day.replace('-', '_')}", tags={"day": day})
    def republish_day(study_day: StudyResource) -> Output[str]:
        """Render the day from the state, check it, publish it under its day lock."""
        t, cpu = time.perf_counter(), time.process_time()
        ctx = study_day.ctx
        rendered = render_day(ctx, day)
        outcome = check_day_files(
            {day: rendered["check"]}, rendered["questions"], {day: rendered["header"]}
        )
        if not outcome.passed:
            raise Failure(f"{day}: data check failed: {'; '.join(outcome.failures)}")
        with ctx.store.run_lock(name=f"day-{day}"):
            res = publish_rendered_day(ctx, rendered)
        return Output(
            day,
            metadata={
                "host": socket.gethostname(), "pid": os.getpid(), "ppid": os.getppid(),
                "rows": rendered["rows"], "written": len(res.written), "linked": len(res.linked),
                "seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu,
            },
        )  # fmt: skip

    return republish_day


def build_days_job(executor_def, name: str = "republish_30_days") -> JobDefinition:
    """One independent op per day; the study resource is configured at launch (run config)."""
    graph = GraphDefinition(name=name, node_defs=[_day_op(day) for day in DAYS])
    return graph.to_job(
        resource_defs={"study_day": StudyResource.configure_at_launch()},
        executor_def=executor_def,
    )


def days_job_multiprocess() -> JobDefinition:
    return build_days_job(multiprocess_executor, name="republish_30_days_multiprocess")


def study_run_config(config: Path, execution: dict) -> dict:
    return {
        "resources": {"study_day": {"config": {"config_path": str(config), "shared_lock": True}}},
        "execution": {"config": execution},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }


def run_job(
    recon_job_fn: Callable[[], JobDefinition], config: Path, execution: dict
) -> tuple[str, CpuSampler, float, float]:
    """Execute the per-day job in the current DAGSTER_HOME: (run id, sampler, t0, t1)."""
    instance = DagsterInstance.get()
    with CpuSampler() as sampler:
        t0 = time.time()
        with execute_job(
            reconstructable(recon_job_fn),
            instance=instance,
            run_config=study_run_config(config, execution),
        ) as result:
            run_id, ok = result.run_id, result.success
        t1 = time.time()
    if not ok:
        raise RuntimeError(f"run {run_id} failed; see DAGSTER_HOME={os.environ['DAGSTER_HOME']}")
    return run_id, sampler, t0, t1


def step_facts(run_id: str) -> dict[str, dict]:
    """Per step: start (its process launched) and end (event log), and the op's metadata."""
    instance = DagsterInstance.get()
    facts: dict[str, dict] = {}
    for rec in instance.all_logs(run_id):
        ev = rec.dagster_event
        if ev is None or ev.step_key is None:
            continue
        row = facts.setdefault(ev.step_key, {})
        if ev.event_type in (DagsterEventType.STEP_WORKER_STARTING, DagsterEventType.STEP_START):
            row.setdefault("start", rec.timestamp)  # from the step process's launch, if any
        elif ev.event_type == DagsterEventType.STEP_SUCCESS:
            row["end"] = rec.timestamp
        elif ev.event_type == DagsterEventType.STEP_OUTPUT:
            meta = ev.event_specific_data.metadata
            row.update({k: v.value for k, v in meta.items()})
        elif ev.event_type == DagsterEventType.ENGINE_EVENT:
            meta = ev.event_specific_data.metadata if ev.event_specific_data else {}
            if "Celery worker" in meta:
                row["celery_worker"] = meta["Celery worker"].value
    return facts


def run_executor_backfill(work: Path, config: Path) -> None:
    os.environ["DAGSTER_HOME"] = str(make_dagster_home(work))
    run_id, sampler, t0, t1 = run_job(days_job_multiprocess, config, {"max_concurrent": 2})
    facts = step_facts(run_id)
    spans = [(f["start"], f["end"]) for f in facts.values() if "end" in f]
    print(f"run {run_id}: {len(spans)} steps succeeded, multiprocess_executor max_concurrent=2")
    print(f"at most {_max_overlap(spans)} steps were in progress at the same moment")
    pids = sorted({f["pid"] for f in facts.values() if "pid" in f})
    print(f"steps ran in {len(pids)} processes (one per step)")
    sampler.report()
    report_speedup("step", t1 - t0, [e - s for s, e in spans])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["daemon", "executor"], default="daemon")
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    print(f"{os.cpu_count()} cores; mode {args.mode}; work folder {work}")
    try:
        config = make_study(work)
        if args.mode == "daemon":
            run_daemon_backfill(work, config)
        else:
            run_executor_backfill(work, config)
        published = sorted((work / "publish").glob("cvid_responses_2021_06_*_recordedby_*.csv"))
        print(f"{len(published)} day files in the publish root (the nightly's + the backfill's)")
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
