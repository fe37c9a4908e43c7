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


def _run(config: Path, as_of: str) -> tuple[float, float, float]:
    """One `python -m pipeline run` in a child process: (wall seconds, peak RSS of the
    largest process in MB, peak of the summed RSS of the run's process tree in MB).

    The run has a checker process (Great Expectations): the tree's sum is
    sampled every 50 ms, so it can miss a short spike; the per-process peak is exact.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--as-of", as_of],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    tree_peak = 0
    while proc.poll() is None:
        tree_peak = max(tree_peak, _tree_rss_kb(proc.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"run failed with exit code {proc.returncode}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024, tree_peak / 1024


def _tree_rss_kb(root: int) -> int:
    """Summed resident memory (kB) of ``root`` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * resource.getpagesize()
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier and p not in tree]
        tree.update(kids)
        frontier = kids
    return sum(rss.get(p, 0) for p in tree) // 1024


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
        wall, peak, tree = _run(config, as_of)
        print(f"first run:  {n:,} responses, {wall:.1f} s, {n / wall:,.0f} responses/s, "
              f"peak RSS {peak:,.0f} MB (largest process), {tree:,.0f} MB (all processes)")  # fmt: skip
        # (the largest-process peak of a second child includes the first: only the sum here)
        wall2, _peak2, tree2 = _run(config, as_of.replace("T12:", "T13:"))
        print(f"second run (nothing new): {wall2:.1f} s, peak RSS {tree2:,.0f} MB "
              f"(all processes)")  # fmt: skip
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
