"""Benchmark (not a test): what recording day partitions costs a run (SPEC §7).

    python bench/bench_partition_events.py [--days 365]

Every day a run publishes or re-issues is recorded as a materialization of its ``day_file``
partition (``assets.panel.record_day_files``): with ``reissue: all``, one event per
published day, every night. This times that function alone, logging ``--days`` events from
one asset of a one-step job, in a child process per Dagster instance: the ephemeral one of
the command line without ``DAGSTER_HOME``, and a SQLite ``DAGSTER_HOME`` (Dagster's default
storage). The floor: the same events' metadata written as CSV and gzipped (measure.py).
"""

# No `from __future__ import annotations`: Dagster reads the asset's context annotation.
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from calibrate import machine_line  # bench/, the script folder, is on sys.path
from dagster import AssetExecutionContext, DagsterInstance, asset, materialize
from measure import Measured, floor_seconds, report, run_child, study_config  # puts ROOT first

from assets.panel import record_day_files
from assets.study import load_study
from pipeline.publishing import DayFile, PublishResult


def child(config: str, days: int) -> None:
    """In the child: a job whose one asset records ``days`` day files; prints the seconds."""
    study = load_study(config)
    first = date(2021, 1, 1)
    res = PublishResult()
    for i in range(days):
        d = (first + timedelta(days=i)).isoformat()
        res.day_files[d] = DayFile(f"cvid_responses_{d}_recordedby_2022_01_02.csv", "0" * 64,
                                   400, "2022-01-02")  # fmt: skip
    seconds: list[float] = []

    @asset(name="publish_step")
    def publish_step(context: AssetExecutionContext) -> None:
        t = time.perf_counter()
        record_day_files(context, study, res, first.isoformat())
        seconds.append(time.perf_counter() - t)

    home = os.environ.get("DAGSTER_HOME")
    instance = DagsterInstance.get() if home else DagsterInstance.ephemeral()
    with instance:
        materialize([publish_step], instance=instance)
    print(json.dumps({"seconds": seconds[0]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.days)
        return
    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        work = Path(tmp)
        config = study_config(work)
        metadata = "".join(f"400,2022-01-02,{'0' * 64},day_{i}.csv\n" for i in range(args.days))
        floor = floor_seconds([f"rows,recorded,sha256,file\n{metadata}".encode()], args.days, 1)
        for label, home in (("ephemeral instance", None), ("SQLite DAGSTER_HOME", work / "home")):
            env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
            if home is not None:
                home.mkdir()
                (home / "dagster.yaml").write_text("")
                env["DAGSTER_HOME"] = str(home)
            cmd = [sys.executable, __file__, "--child", str(config), "--days", str(args.days)]
            with tempfile.TemporaryFile() as out:
                measured = run_child(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL)
                out.seek(0)
                if measured.returncode:
                    raise SystemExit(f"{label}: the child failed ({measured.returncode})")
                seconds = json.loads(out.read().decode().splitlines()[-1])["seconds"]
            # the events alone (the child's start-up and job set-up are not the figure)
            alone = Measured(seconds, measured.tree_peak_mb, 0)
            print(report(f"{label}: {args.days} day partitions recorded", args.days, alone, floor)
                  + f"; {seconds / args.days * 1000:.2f} ms per event (floor {floor * 1000:.1f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
