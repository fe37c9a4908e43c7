"""Benchmark (not a test): a whole nightly run publishing to a real OpenSSH sshd, then a re-issue.

    .venv/bin/python bench/bench_sftp_publish.py [--days 30] [--per-day 30000] [--keep]

1. Starts its own sshd on 127.0.0.1 (tests/plugins/sshd_server.py) and generates
   ``--days`` x ``--per-day`` panel responses (``pipeline.panel.synth``) into a local drop.
2. Runs ``python -m pipeline run`` (a child process) with ``publish: sftp://...`` and prints
   the run's seconds, rows/s, the peak RSS of its process tree and its ratio to the floor
   (``measure.floor_seconds`` over the same exports and published rows), then the bytes it
   uploaded and MB/s (during the uploads and end to end).
3. Adds one late export holding one new response that started on a past day, then runs
   again (next `recorded` date, ``reissue: all``) and prints what that run sent: it must
   upload only that day's new file and the cumulative file (plus the small OUTAGES.txt,
   SHA256SUMS and run manifest); every other day is re-issued by the server's hard link.

The clocks are chosen so that the second run closes no new day and all data is delivered
before the first one (the June rollup is published by the first run only; the changed day
is in July, whose month has not ended).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from calibrate import machine_line  # bench/, the script folder, is on sys.path
from measure import floor_seconds, published_rows, report, run_child, study_config

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

START = date(2021, 6, 5)
CLOCK_1 = "2021-07-10T06:00:00Z"  # 07-09 23:00 PDT: recorded 2021-07-09, last closed day 07-08
CLOCK_2 = "2021-07-10T08:00:00Z"  # 07-10 01:00 PDT: recorded 2021-07-10, still 07-08
LATE_DAY = "2021-07-01"
MB = 1e6


# --------------------------------------------------------------------------- child process


def _child(config: str, as_of: str, stats_path: str) -> int:
    """One ``pipeline run`` in this process, timing the SFTP uploads; stats as JSON."""
    from pipeline.cli import main
    from pipeline.locations.sftp import SftpLocation

    stats = {"upload_s": 0.0, "upload_bytes": 0, "uploads": 0, "links": {}, "link_s": 0.0}
    write_atomic, link_or_copy = SftpLocation.write_atomic, SftpLocation.link_or_copy

    def timed_write(self, path, data):
        t = time.perf_counter()
        try:
            return write_atomic(self, path, data)
        finally:
            stats["upload_s"] += time.perf_counter() - t
            stats["upload_bytes"] += len(data)
            stats["uploads"] += 1

    def timed_link(self, src, dst, data=None):
        t = time.perf_counter()
        how = link_or_copy(self, src, dst, data)
        stats["link_s"] += time.perf_counter() - t
        stats["links"][how] = stats["links"].get(how, 0) + 1
        return how

    SftpLocation.write_atomic, SftpLocation.link_or_copy = timed_write, timed_link
    t = time.perf_counter()
    rc = main(["run", "--config", config, "--as-of", as_of])
    stats["wall_s"] = time.perf_counter() - t
    stats["rc"] = rc
    Path(stats_path).write_text(json.dumps(stats))
    return rc


def _run(config: Path, as_of: str, work: Path) -> dict:
    stats = work / f"stats-{as_of.replace(':', '')}.json"
    measured = run_child(
        [sys.executable, __file__, "--child", str(config), as_of, str(stats)],
        stdout=subprocess.DEVNULL,
    )
    if measured.returncode:
        raise SystemExit(f"run failed with exit code {measured.returncode}")
    return json.loads(stats.read_text()) | {"process_s": measured.wall, "measured": measured}


# --------------------------------------------------------------------------- late record


def _late_export(drop: Path, day: str) -> Path:
    """A new export file with one new respondent who started on ``day`` (a copy of an
    eligible response of that day with a new ResponseId and token), same layout."""
    for path in sorted(drop.glob("export_*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_text("utf-8-sig"), newline="")))
        names, meta = rows[0], rows[2]
        col = {n: i for i, n in enumerate(names)}
        if "UTC" in meta[col["StartDate"]]:
            continue  # keep to local-time exports: the day is the date in StartDate
        for row in rows[3:]:
            if (
                row[col["StartDate"]].startswith(day)
                and row[col["Status"]] == "0"
                and row[col["Finished"]] == "1"
                and row[col["S1"]] == "1"
                and row[col["DistributionChannel"]] == "anonymous"
                and row[col["token"]]
                and row[col["SurveyID"]]
            ):
                row = list(row)
                row[col["ResponseId"]] = "R_benchLate00000001"
                row[col["token"]] = "bench-late-respondent-0001"
                out = drop / "export_2021_07_10_late.csv"
                buf = io.StringIO()
                w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
                w.writerows([rows[0], rows[1], rows[2], row])
                out.write_text(buf.getvalue(), "utf-8")
                return out
    raise SystemExit(f"no eligible response of {day} found to copy")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=30_000)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        raise SystemExit(_child(*args.child))

    from pipeline.panel.synth import generate_panel
    from tests.plugins.sshd_server import SshServer, sshd_available

    if not 27 <= args.days <= 30:  # the data must reach the late day and end by 07-04
        raise SystemExit("--days must be 27..30 (the clocks and the late day are fixed)")
    reason = sshd_available()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    print(machine_line(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-sftp-publish-"))
    server = SshServer(work / "sshd")
    try:
        server.start()
        t = time.perf_counter()
        generate_panel(work / "drop", START, args.days, args.per_day, seed=11)
        n = args.days * args.per_day
        print(f"generated {n:,} responses over {args.days} days in {time.perf_counter() - t:.1f} s")
        publish = server.root / "publish"
        config = study_config(
            work, publish=server.url(publish), reissue="all", gzip_daily=False,
            sftp={"known_hosts": str(server.known_hosts), "key_file": str(server.key_file),
                  "allow_unknown_hosts": False},
        )  # fmt: skip
        print(f"sshd {server.url(publish)}")

        s1 = _run(config, CLOCK_1, work)
        rows_out = published_rows(publish)
        floor = floor_seconds(sorted((work / "drop").glob("*.csv*")), rows_out)
        print(report(f"run 1 ({rows_out:,} published)", n, s1["measured"], floor))
        up = s1["upload_bytes"] / MB
        print(
            f"run 1 (everything new): {s1['wall_s']:.1f} s in the job ({s1['process_s']:.1f} s "
            f"with start-up), uploaded {up:,.1f} MB in {s1['uploads']} files; "
            f"{up / s1['upload_s']:,.1f} MB/s while uploading ({s1['upload_s']:.1f} s), "
            f"{up / s1['wall_s']:,.1f} MB/s end to end"
        )

        late = _late_export(work / "drop", LATE_DAY)
        print(f"added {late.name}: one new response started on {LATE_DAY}")
        s2 = _run(config, CLOCK_2, work)
        print(report("run 2 (one new response, every day re-issued)", n + 1, s2["measured"], floor))
        runs = sorted((publish / "runs").glob("2021_07_10_*.json"))
        manifest = json.loads(runs[-1].read_text())
        sizes = {name: (publish / name).stat().st_size for name in manifest["published"]}
        print(
            f"run 2 (reissue: all, one day changed): {s2['wall_s']:.1f} s in the job; "
            f"manifest bytes_uploaded {manifest['bytes_uploaded']:,}"
            f" ({s2['upload_bytes']:,} bytes with the manifest and SHA256SUMS), "
            f"re-issued by link: {len(manifest['reissued_by_link'])} files {s2['links']}"
        )
        print("uploaded by run 2:")
        for name, size in sizes.items():
            print(f"  {size:>12,}  {name}")
        manifest_name = runs[-1].relative_to(publish).as_posix()
        for name in (manifest_name, "SHA256SUMS"):
            print(f"  {(publish / name).stat().st_size:>12,}  {name}")
        daily = sorted(n for n in sizes if "_recordedby_" in n)
        expected = [f"cvid_responses_{LATE_DAY.replace('-', '_')}_recordedby_2021_07_10.csv"]
        big = [n for n in sizes if n not in expected and "_-_" not in n and sizes[n] > 100_000]
        ok = daily == expected and manifest["reissued_days"] == [LATE_DAY] and not big
        ok = ok and set(s2["links"]) == {"hardlink"}
        print("OK: only the changed day and the cumulative file were sent" if ok else
              f"UNEXPECTED: daily {daily}, reissued {manifest['reissued_days']}, big {big}, "
              f"links {s2['links']}")  # fmt: skip
        if not ok:
            raise SystemExit(1)
    finally:
        server.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
