"""Benchmark: publish CSV files to a real local OpenSSH sshd through SftpLocation.

    .venv/bin/python bench/bench_sftp_transfer.py [--files 30] [--rows 30000] [--rounds 3]

Starts its own sshd on 127.0.0.1 (tests/plugins/sshd_server.py), uploads ``--files``
files of ``--rows`` CSV rows each with ``write_atomic``, lists them, downloads them
back with ``read_bytes`` and checks the bytes. Then times what the private paramiko call
left in the location (``SFTPClient._request`` for OpenSSH extensions) buys against the
public way: ``link_or_copy`` by server hard link and by server copy against sending the
bytes again; ``read_bytes`` with the server's largest reads (limits@openssh.com) against
paramiko's default 32 KiB; ``write_atomic`` with and without the server's fsync. Each step
runs ``--rounds`` times (interleaved); medians, MB/s and ms per file are printed, and for the
uploads and downloads rows/s, the peak RSS of the process tree (this process, sshd and its
sftp-server) and the ratio to the floor (``measure.floor_seconds`` over the same files).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from calibrate import machine_line  # noqa: E402  (bench/, the script folder, is on sys.path)
from measure import Measured, TreePeak, floor_seconds, report  # noqa: E402

from pipeline.config import SftpConfig  # noqa: E402
from pipeline.locations.sftp import READ_SIZE, SftpLocation  # noqa: E402
from tests.plugins.sshd_server import SshServer, sshd_available  # noqa: E402

HEADER = "ResponseId,StartDate,EndDate,cid,S1,A2,A2b,B2b,Q40,D3,D4,D5,QState_A3,zip5\n"


def make_csv(seed: int, rows: int) -> bytes:
    rnd = random.Random(seed)
    out = [HEADER]
    for i in range(rows):
        day = 1 + i % 28
        out.append(
            f"R_{seed:03d}{i:012d},2024-03-{day:02d} {rnd.randrange(24):02d}:"
            f"{rnd.randrange(60):02d}:{rnd.randrange(60):02d},2024-03-{day:02d} 23:59:00,"
            f"{rnd.getrandbits(40):010x},1,{rnd.randrange(1, 6)},{rnd.randrange(1, 6)},"
            f"{rnd.randrange(0, 11)},{rnd.randrange(1, 8)},{rnd.randrange(1, 100)},"
            f"{rnd.randrange(1, 100)},{rnd.randrange(1, 100)},CA,{rnd.randrange(90001, 96162)}\n"
        )
    return "".join(out).encode()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--rows", type=int, default=30_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    reason = sshd_available()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    print(machine_line(), flush=True)
    t0 = time.perf_counter()
    payloads = [make_csv(i, args.rows) for i in range(args.files)]
    total = sum(map(len, payloads))
    print(
        f"generated {args.files} files x {args.rows} rows = {total / 1e6:.1f} MB "
        f"in {time.perf_counter() - t0:.2f} s"
    )
    names = [f"2024/03/responses_{i:03d}.csv" for i in range(args.files)]
    times: dict[str, list[float]] = {}

    def timed(step: str, fn: Callable[[], None]) -> None:
        t = time.perf_counter()
        fn()
        times.setdefault(step, []).append(time.perf_counter() - t)

    with TreePeak() as peak:  # this process, sshd and its sftp-server children
        server = SshServer().start()
        try:
            cfg = SftpConfig(known_hosts=str(server.known_hosts), key_file=str(server.key_file))
            t0 = time.perf_counter()
            loc = SftpLocation.from_url(server.url("publish"), cfg)
            connect_s = time.perf_counter() - t0
            try:

                def upload() -> None:
                    for name, data in zip(names, payloads, strict=True):
                        loc.write_atomic(name, data)

                def listing() -> None:
                    listed = [f for f in loc.list_files() if f.path.startswith("2024/")]
                    assert len(listed) == args.files, len(listed)

                def download() -> None:
                    for i, (name, data) in enumerate(zip(names, payloads, strict=True)):
                        if loc.read_bytes(name) != data:
                            raise SystemExit(f"file {i} came back different")

                def download_32k() -> None:
                    size = loc._read_size
                    loc._read_size = READ_SIZE  # paramiko's default, without limits@openssh.com
                    try:
                        download()
                    finally:
                        loc._read_size = size

                def link(expected: str, lacking: tuple[str, ...]) -> Callable[[], None]:
                    def run() -> None:
                        # as if the server lacked these extensions (this connection only)
                        loc._extensions.update(dict.fromkeys(lacking, False))
                        try:
                            for i, (name, data) in enumerate(zip(names, payloads, strict=True)):
                                how = loc.link_or_copy(name, f"reissue/{i:03d}.csv", data=data)
                                assert how == expected, how
                        finally:
                            for ext in lacking:
                                loc._extensions.pop(ext, None)

                    return run

                def upload_without_fsync() -> None:
                    loc._extensions["fsync@openssh.com"] = False
                    try:
                        upload()
                    finally:
                        loc._extensions.pop("fsync@openssh.com", None)

                hardlink = "hardlink@openssh.com"
                steps: list[tuple[str, Callable[[], None]]] = [
                    ("write_atomic", upload),
                    ("list_files", listing),
                    ("read_bytes", download),
                    ("read_bytes, 32 KiB requests", download_32k),
                    ("link_or_copy: hard link", link("hardlink", ())),
                    ("link_or_copy: server copy", link("copy", (hardlink,))),
                    ("link_or_copy: upload again", link("upload", (hardlink, "copy-data"))),
                    ("write_atomic, no fsync", upload_without_fsync),
                ]
                for _ in range(args.rounds):
                    for step, fn in steps:
                        timed(step, fn)
            finally:
                loc.close()
        finally:
            server.close()

    mb = total / 1e6
    rows = args.files * args.rows
    floor = floor_seconds(payloads, rows, header_rows=1)
    for step in ("write_atomic", "read_bytes"):
        measured = Measured(statistics.median(times[step]), peak.mb, 0)
        print(report(f"{step} (median)", rows, measured, floor))
    print(f"{'connect':28s} {connect_s:8.2f} s")
    for step, runs in times.items():
        med = statistics.median(runs)
        rate = "" if step == "list_files" else f"  {mb / med:8.1f} MB/s"
        print(
            f"{step:28s} {med:8.3f} s{rate}  {1000 * med / args.files:7.1f} ms/file  "
            f"(runs: {', '.join(f'{r:.3f}' for r in runs)})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
