"""Benchmark (not a test): a backfill of 30 days, as the UI and ``dagster`` launch it.

    python bench/bench_backfill.py [--days 30] [--per-day 5000]

Builds a study night by night, then re-publishes every day in one backfill run
(``python -m pipeline backfill``: the ``{study}_days`` job over the partition range, the
same single run a UI backfill of the ``day_file`` asset launches). Also times a one-day
backfill, so the cost per day after start-up is printed. Target (issue 12, 2 cores): 30
days in at most 60 s, at most 2 s per day after start-up.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from calibrate import machine_line  # bench/, the script folder, is on sys.path
from measure import ROOT, floor_seconds, report, run_child, study_config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=5000)
    args = parser.parse_args()
    print(machine_line(), flush=True)
    from pipeline.panel.synth import generate_panel

    work = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    try:
        start = date(2021, 6, 1)
        generate_panel(work / "drop", start, args.days, args.per_day, seed=2)
        config = study_config(work, reissue="changed", gzip_daily=False)
        as_of = f"{(start + timedelta(days=args.days + 6)).isoformat()}T12:00:00Z"
        cli = [sys.executable, "-m", "pipeline"]
        subprocess.run([*cli, "run", "--config", str(config), "--as-of", as_of],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        last = start + timedelta(days=args.days - 1)
        clock = as_of.replace("T12:", "T13:")

        def backfill(first: date) -> object:
            return run_child([*cli, "backfill", "--config", str(config), "--from",
                              first.isoformat(), "--to", last.isoformat(), "--as-of", clock],
                             stdout=subprocess.DEVNULL)  # fmt: skip

        one = backfill(last)
        recorded = (start + timedelta(days=args.days + 6)).strftime("%Y_%m_%d")
        day_files = (work / "publish").glob(f"cvid_responses_*_recordedby_{recorded}.csv")
        rows = sum(p.read_bytes().count(b"\n") - 1 for p in day_files)
        t = time.perf_counter()
        floor = floor_seconds(sorted((work / "drop").glob("*.csv")), rows)
        floor_wall = time.perf_counter() - t
        full = backfill(start)
        if one.returncode or full.returncode:
            raise SystemExit("a backfill failed")
        print(report(f"backfill of {args.days} days", rows, full, floor))
        print(report("backfill of 1 day (start-up + one day)", rows // args.days, one, floor))
        per_day = (full.wall - one.wall) / max(1, args.days - 1)
        print(
            f"per day after start-up: {per_day:.2f} s (target <= 2 s); "
            f"30 days target <= 60 s: {'met' if full.wall <= 60 else 'NOT met'}; "
            f"floor measured in {floor_wall:.1f} s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
