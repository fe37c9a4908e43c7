"""Benchmark (not a test): generate N panel responses over D days, time `run` end to end.

    python bench/bench_panel_run.py [--responses 1000000] [--days 30]

Prints responses/s, wall seconds and peak RSS for the first run (everything new) and for
a second run with nothing new. Targets (issue 2, 2-core machine): first run <= 30 s and
<= 3 GB peak RSS; second run <= 5 s.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml
from calibrate import machine_line  # bench/, the script folder, is on sys.path

ROOT = Path(__file__).resolve().parent.parent


def _run(config: Path, as_of: str) -> tuple[float, float]:
    """One `python -m pipeline run` in a child process: (wall seconds, peak RSS in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--as-of", as_of],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    print(machine_line(), flush=True)
    sys.path.insert(0, str(ROOT))
    from pipeline.panel.synth import generate_panel

    work = Path(tempfile.mkdtemp(prefix="bench-panel-"))
    try:
        start = date(2021, 6, 1)
        per_day = -(-args.responses // args.days)
        t = time.perf_counter()
        generate_panel(work / "drop", start, args.days, per_day, seed=1)
        print(f"generated {per_day * args.days:,} responses in {time.perf_counter() - t:.1f} s")
        config = work / "config.yaml"
        config.write_text(yaml.safe_dump({
            "source": str(work / "drop"), "publish": str(work / "publish"),
            "cid_out": str(work / "cids"), "archive": str(work / "archive"),
            "state": f"sqlite:///{work / 'state.db'}",
        }))  # fmt: skip
        as_of = f"{date.fromordinal(start.toordinal() + args.days + 6).isoformat()}T12:00:00Z"
        n = per_day * args.days
        wall, peak = _run(config, as_of)
        print(f"first run:  {n:,} responses, {wall:.1f} s, {n / wall:,.0f} responses/s, "
              f"peak RSS {peak:,.0f} MB")  # fmt: skip
        wall2, peak2 = _run(config, as_of.replace("T12:", "T13:"))
        print(f"second run (nothing new): {wall2:.1f} s, peak RSS {peak2:,.0f} MB")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
