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
import time
from datetime import date

import yaml
from calibrate import machine_line  # bench/, the script folder, is on sys.path
from measure import floor_seconds, published_rows, report, run_pipeline, work_folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    print(machine_line(), flush=True)
    from pipeline.panel.synth import generate_panel

    with work_folder("bench-panel-", args.keep) as work:
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
        first = run_pipeline(config, as_of)
        rows_out = published_rows(work / "publish")
        floor = floor_seconds(sorted((work / "drop").glob("*.csv*")), rows_out)
        print(report(f"first run ({rows_out:,} published)", n, first, floor))
        second = run_pipeline(config, as_of.replace("T12:", "T13:"))
        print(report("second run (nothing new)", n, second, floor))


if __name__ == "__main__":
    main()
