"""Benchmark (not a test): a first run over an inherited archive, then a full `rebuild`.

    python bench/bench_rebuild.py [--responses 1000000] [--days 30] [--batch-rows N]

Issue 32 (SPEC §7 "Scale"): on the 2-core, 24 GB machine, a first run and a `rebuild` of
25 million responses over 800 days each peak at <= 4 GB for the whole process tree, and
the seconds per million stay within 1.5x of a 1M-response first run. Run it at 1M/30 days,
5M/160 days and 25M/800 days to see the growth (figures: bench/README.md).

It writes ``--responses`` synthetic responses over ``--days`` days (``pipeline synth``),
runs ``python -m pipeline run`` once (everything new: an inherited archive), then
``python -m pipeline rebuild`` at the same clock (every day recomputed from the archive,
nothing re-published since nothing changed), and prints for each: seconds, the peak RSS of
the process tree, seconds per million responses, and the ratio to the floor.

The floor (bench/measure.py: read the exports with pyarrow, write and gzip the rows as
CSV) is measured in the same run on the first exports holding about a million responses
and scaled to the whole input: it is linear, and measuring it whole would need the whole
archive in memory, which is what this benchmark shows the pipeline does not need.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from calibrate import machine_line  # bench/, the script folder, is on sys.path
from measure import Measured, floor_seconds, run_child, study_config, work_folder

FLOOR_SAMPLE = 1_000_000  # responses the floor is measured on, then scaled
BYTES_PER_RESPONSE = 2_600  # drop + archive + published files + work folder, measured at 1M


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--batch-rows", type=int, help="rebuild_batch_rows (default: the default)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    print(machine_line(), flush=True)
    from pipeline.panel.synth import generate_panel

    with work_folder("bench-rebuild-", args.keep) as work:
        need = args.responses * BYTES_PER_RESPONSE
        free = shutil.disk_usage(work).free
        print(f"disk: {free / 1e9:.0f} GB free, about {need / 1e9:.0f} GB needed")
        if need > free:
            raise SystemExit("not enough disk for this size: pass a smaller --responses")
        start = date(2021, 6, 1)
        per_day = -(-args.responses // args.days)
        n = per_day * args.days
        t = time.perf_counter()
        exports = generate_panel(work / "drop", start, args.days, per_day, seed=1)
        print(f"generated {n:,} responses over {args.days} days in "
              f"{time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip
        os.sync()  # the run should not wait for the generated drop's writeback
        keys = {} if args.batch_rows is None else {"rebuild_batch_rows": args.batch_rows}
        config = study_config(work, **keys)
        as_of = f"{(start + timedelta(days=args.days + 6)).isoformat()}T12:00:00Z"
        sample = sorted(exports)[: max(1, -(-FLOOR_SAMPLE * len(exports) // n))]
        sample_n = n * len(sample) // len(exports)
        floor = floor_seconds(sample, sample_n) * n / sample_n
        print(f"floor: {floor:.1f} s ({sample_n:,} responses measured, scaled to {n:,})")
        first = _run(["run"], config, as_of)
        print(_line("first run", n, first, floor), flush=True)
        rebuild = _run(["rebuild"], config, as_of)
        print(_line("rebuild", n, rebuild, floor), flush=True)


def _run(command: list[str], config: Path, as_of: str) -> Measured:
    cmd = [sys.executable, "-m", "pipeline", *command, "--config", str(config), "--as-of", as_of]
    measured = run_child(cmd, stdout=open(os.devnull, "w"))  # noqa: SIM115
    if measured.returncode:
        raise SystemExit(f"{command[0]} failed with exit code {measured.returncode}")
    return measured


def _line(what: str, n: int, m: Measured, floor: float) -> str:
    return (
        f"{what}: {n:,} responses, {m.wall:.1f} s, {m.wall / (n / 1e6):.1f} s per million, "
        f"peak RSS {m.tree_peak_mb:,.0f} MB (process tree), {m.wall / floor:.1f}x the floor "
        f"({floor:.1f} s)"
    )


if __name__ == "__main__":
    main()
