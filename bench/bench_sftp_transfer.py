"""Benchmark: publish CSV files to a real local OpenSSH sshd through SftpLocation.

    .venv/bin/python bench/bench_sftp_transfer.py [--files 30] [--rows 30000]

Starts its own sshd on 127.0.0.1 (tests/plugins/sshd_server.py), uploads ``--files``
files of ``--rows`` CSV rows each with ``write_atomic``, lists them, downloads them
back with ``read_bytes`` and checks the bytes, then prints seconds, MB/s and the
process's peak RSS.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.config import SftpConfig  # noqa: E402
from pipeline.locations.sftp import SftpLocation  # noqa: E402
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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--rows", type=int, default=30_000)
    args = ap.parse_args(argv)

    reason = sshd_available()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    payloads = [make_csv(i, args.rows) for i in range(args.files)]
    total = sum(map(len, payloads))
    print(
        f"generated {args.files} files x {args.rows} rows = {total / 1e6:.1f} MB "
        f"in {time.perf_counter() - t0:.2f} s"
    )

    server = SshServer().start()
    try:
        cfg = SftpConfig(known_hosts=str(server.known_hosts), key_file=str(server.key_file))
        t0 = time.perf_counter()
        loc = SftpLocation.from_url(server.url("publish"), cfg)
        connect_s = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            for i, data in enumerate(payloads):
                loc.write_atomic(f"2024/03/responses_{i:03d}.csv", data)
            upload_s = time.perf_counter() - t0

            t0 = time.perf_counter()
            listed = loc.list_files()
            list_s = time.perf_counter() - t0
            assert len(listed) == args.files, listed

            t0 = time.perf_counter()
            for i, data in enumerate(payloads):
                if loc.read_bytes(f"2024/03/responses_{i:03d}.csv") != data:
                    raise SystemExit(f"file {i} came back different")
            download_s = time.perf_counter() - t0
        finally:
            loc.close()
    finally:
        server.close()

    mb = total / 1e6
    print(f"connect          {connect_s:8.2f} s")
    print(f"write_atomic     {upload_s:8.2f} s  {mb / upload_s:8.1f} MB/s  ({args.files} files)")
    print(f"list_files       {list_s:8.3f} s")
    print(f"read_bytes       {download_s:8.2f} s  {mb / download_s:8.1f} MB/s")
    print(f"peak RSS         {peak_rss_mb():8.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
