"""Downloads, uploads and atomic writes (pipeline/locations/sftp/transfer.py), also with
sshd killed mid-transfer, against a real OpenSSH sshd (tests/plugins/sshd.py)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from pipeline.locations.sftp import transfer
from pipeline.locations.sftp.errors import SftpRetryError, TransferError
from tests.locations.sftp.helpers import local_names, open_sftp
from tests.sftp_faults import Killer

BIG = 50 * 1024 * 1024


def _big(seed: int) -> bytes:
    block = bytes((seed + i) % 251 for i in range(1 << 16))
    return block * (BIG // len(block))


def test_write_atomic_never_shows_a_partial_file(sshd):
    old, new = b"o" * (8 << 20), b"n" * (24 << 20)
    target = sshd.root / "f.bin"
    with open_sftp(sshd) as loc:
        loc.write_atomic("f.bin", old)
        seen: set[tuple[int, bytes]] = set()
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                data = target.read_bytes()
                seen.add((len(data), data[:1] + data[-1:]))

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            loc.write_atomic("f.bin", new)
            time.sleep(0.05)
        finally:
            stop.set()
            watcher.join()
    assert seen <= {(len(old), b"oo"), (len(new), b"nn")}
    assert (len(new), b"nn") in seen
    assert target.read_bytes() == new


@pytest.mark.parametrize("size", [1, 32769, 261119, 261120, 261121, (3 << 20) + 5])
def test_sizes_around_the_request_size_round_trip(sshd, size):
    data = os.urandom(size)
    (sshd.root / "r.bin").write_bytes(data)
    with open_sftp(sshd) as loc:
        seen = []
        loc.progress = lambda path, done, total: seen.append((path, done, total))
        assert loc.read_bytes("r.bin") == data
        assert seen[-1] == ("r.bin", size, size)
        assert [d for _, d, _ in seen] == sorted({d for _, d, _ in seen})
        loc.write_atomic("w.bin", data)
        assert (sshd.root / "w.bin").read_bytes() == data
        assert loc.retries_used == 0


def test_upload_reports_a_write_refused_midway(sshd):
    """paramiko drops the replies to pipelined writes pending at close; the upload must not."""
    with open_sftp(sshd) as loc:
        # every write to /dev/full fails (ENOSPC); 3 MiB is 96 write requests, fewer than
        # the 100 after which paramiko itself collects replies mid-transfer
        with pytest.raises(OSError) as err:
            transfer.upload(
                loc.connection, loc.connection.sftp, "/dev/full", b"x" * (3 << 20), "full.bin", None
            )
        assert not isinstance(err.value, (ConnectionError, TransferError))
        assert loc.connection.alive()
        loc.write_atomic("after.csv", b"ok")  # the connection is still in step
        assert loc.read_bytes("after.csv") == b"ok" and loc.retries_used == 0


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_file_changing_during_download_is_detected_and_retried(sshd, change):
    path = sshd.root / "live.csv"
    path.write_bytes(b"a" * (4 << 20))
    changed = []

    def progress(name: str, done: int, total: int) -> None:
        if not changed:
            changed.append(1)
            if change == "grow":
                with path.open("ab") as fh:
                    fh.write(b"b" * 1000)
            else:
                os.truncate(path, 1 << 20)

    with open_sftp(sshd) as loc:
        loc.backoff = 0.01
        loc.progress = progress
        data = loc.read_bytes("live.csv")
        assert data == path.read_bytes()
        assert loc.retries_used == 1


def test_link_or_copy_missing_source(sshd):
    with open_sftp(sshd) as loc:
        with pytest.raises(FileNotFoundError, match="nope.csv"):
            loc.link_or_copy("nope.csv", "dst.csv")
        assert loc.link_or_copy("nope.csv", "dst.csv", data=b"d") == "upload"
        assert (sshd.root / "dst.csv").read_bytes() == b"d"


def test_sshd_killed_mid_download_retries_after_restart(sshd):
    data = _big(1)
    (sshd.root / "big.bin").write_bytes(data)
    with open_sftp(sshd, retries=6) as loc:
        loc.backoff = 0.2
        killer = Killer(sshd, at=len(data) // 5, downtime=0.5)
        loc.progress = killer.progress
        assert loc.read_bytes("big.bin") == data
        killer.join()
        assert killer.killed.is_set()
        assert loc.retries_used >= 1 and loc.connections >= 2


def test_sshd_killed_mid_download_without_restart_raises_cleanly(sshd):
    (sshd.root / "big.bin").write_bytes(_big(2))
    with open_sftp(sshd, retries=1) as loc:
        loc.backoff = 0.1
        killer = Killer(sshd, at=BIG // 5, downtime=None)
        loc.progress = killer.progress
        t0 = time.monotonic()
        with pytest.raises(SftpRetryError, match=r"read_bytes\('big.bin'\) failed after 2"):
            loc.read_bytes("big.bin")
        assert time.monotonic() - t0 < 20
        killer.join()


def test_sshd_killed_mid_upload_retries_after_restart(sshd):
    old, new = b"old\n" * 1000, _big(3)
    with open_sftp(sshd, retries=6) as loc:
        loc.backoff = 0.2
        loc.write_atomic("out/f.bin", old)
        killer = Killer(sshd, at=len(new) // 5, downtime=0.5)
        loc.progress = killer.progress
        loc.write_atomic("out/f.bin", new)
        killer.join()
        assert killer.killed.is_set()
        assert loc.retries_used >= 1
        assert (sshd.root / "out/f.bin").read_bytes() == new
        # the temp file of the killed attempt was removed after reconnecting
        assert local_names(sshd.root) == ["out/f.bin"]


def test_sshd_killed_mid_upload_without_restart_leaves_old_file(sshd):
    old, new = b"old\n" * 1000, _big(4)
    with open_sftp(sshd, retries=1) as loc:
        loc.backoff = 0.1
        loc.write_atomic("f.bin", old)
        killer = Killer(sshd, at=len(new) // 5, downtime=None)
        loc.progress = killer.progress
        with pytest.raises(SftpRetryError, match="write_atomic"):
            loc.write_atomic("f.bin", new)
        killer.join()
    assert (sshd.root / "f.bin").read_bytes() == old  # never partial, never missing
    sshd.start()
    with open_sftp(sshd) as loc:
        assert [f.path for f in loc.list_files()] == ["f.bin"]  # temp names are hidden
