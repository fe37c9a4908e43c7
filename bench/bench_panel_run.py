"""Benchmark (not a test): generate N panel responses over D days, time `run` end to end.

    python bench/bench_panel_run.py [--responses 1000000] [--days 30]

Prints responses/s, wall seconds, the peak RSS of the run's whole process tree and the
ratio to the floor (bench/measure.py) for the first run (everything new) and for a second
run with nothing new. Targets (2-core machine): issue 2, first run <= 30 s and <= 3 GB,
second run <= 5 s; issue 14, first run <= 15 s and <= 2 GB, second run <= 4 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml
from calibrate import machine_line  # bench/, the script folder, is on sys.path
from measure import Measured, floor_seconds, report, run_child


def _run(config: Path, as_of: str) -> Measured:
    """One `python -m pipeline run` in a child process, timed with its process tree's peak."""
    measured = run_child(
        [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--as-of", as_of],
        stdout=subprocess.DEVNULL,
    )
    if measured.returncode:
        raise SystemExit(f"run failed with exit code {measured.returncode}")
    return measured


def _published_rows(publish: Path) -> int:
    """Rows in the newest version of every day file."""
    newest: dict[str, Path] = {}
    for p in sorted(publish.glob("cvid_responses_*_recordedby_*.csv")):
        newest[p.name.split("_recordedby_")[0]] = p
    return sum(p.read_bytes().count(b"\n") - 1 for p in newest.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    print(machine_line(), flush=True)
    from pipeline.panel.synth import generate_panel

    work = Path(tempfile.mkdtemp(prefix="bench-panel-"))
    try:
        start = date(2021, 6, 1)
        per_day = -(-args.responses // args.days)
        t = time.perf_counter()
        generate_panel(work / "drop", start, args.days, per_day, seed=1)
        print(f"generated {per_day * args.days:,} responses in {time.perf_counter() - t:.1f} s")
        os.sync()  # the run should not wait for the generated drop's writeback
        config = work / "config.yaml"
        config.write_text(yaml.safe_dump({
            "source": str(work / "drop"), "publish": str(work / "publish"),
            "cid_out": str(work / "cids"), "archive": str(work / "archive"),
            "state": f"sqlite:///{work / 'state.db'}",
        }))  # fmt: skip
        as_of = f"{date.fromordinal(start.toordinal() + args.days + 6).isoformat()}T12:00:00Z"
        n = per_day * args.days
        first = _run(config, as_of)
        rows_out = _published_rows(work / "publish")
        floor = floor_seconds(sorted((work / "drop").glob("*.csv*")), rows_out)
        print(report(f"first run ({rows_out:,} published)", n, first, floor))
        second = _run(config, as_of.replace("T12:", "T13:"))
        print(report("second run (nothing new)", n, second, floor))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
