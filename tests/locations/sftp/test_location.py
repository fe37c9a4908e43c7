"""The SFTP location's API and its retried operations (pipeline/locations/sftp/location.py)
against a real OpenSSH sshd (tests/plugins/sshd.py)."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

from pipeline.locations import LocationUnavailable, UnsafePathError
from pipeline.locations.sftp.errors import SftpRetryError
from pipeline.locations.sftp.location import SftpLocation
from tests.locations.sftp.helpers import local_names, open_sftp


def test_round_trip_nested(sshd):
    loc = open_sftp(sshd, "pub")
    try:
        with pytest.raises(LocationUnavailable, match=r"/pub: cannot list the location: no such"):
            loc.list_files()  # the root does not exist yet: an error, not an empty drop
        assert loc.remove_temp_files() == []
        assert loc.stat("a.csv") is None
        loc.write_atomic("a.csv", b"x,y\n1,2\n")
        loc.write_atomic("2024/01/b.csv", b"b" * 1000)
        loc.write_atomic("2024/c.csv", b"")
        (sshd.root / "pub" / ".hidden").write_bytes(b"h")
        (sshd.root / "pub" / "2024" / ".tmpdir").mkdir()
        (sshd.root / "pub" / "2024" / ".tmpdir" / "x.csv").write_bytes(b"h")
        files = loc.list_files()
        assert [f.path for f in files] == ["2024/01/b.csv", "2024/c.csv", "a.csv"]
        assert [f.size for f in files] == [1000, 0, 8]
        assert loc.read_bytes("a.csv") == b"x,y\n1,2\n"
        assert loc.read_bytes("2024/c.csv") == b""
        st = loc.stat("2024/01/b.csv")
        local = (sshd.root / "pub/2024/01/b.csv").stat()
        assert (st.path, st.size, st.mtime) == ("2024/01/b.csv", 1000, int(local.st_mtime))
        assert (sshd.root / "pub/a.csv").stat().st_mode & 0o777 == 0o644
        loc.write_atomic("a.csv", b"new")
        assert loc.read_bytes("a.csv") == b"new"
        loc.remove("a.csv")
        loc.remove("a.csv")  # missing: fine
        assert loc.stat("a.csv") is None
        with pytest.raises(FileNotFoundError, match="a.csv"):
            loc.read_bytes("a.csv")
        assert loc.retries_used == 0 and loc.connections == 1
        assert local_names(sshd.root / "pub") == [
            ".hidden",
            "2024/.tmpdir/x.csv",
            "2024/01/b.csv",
            "2024/c.csv",
        ]  # fmt: skip  (no temp files left behind)
    finally:
        loc.close()


def test_close_then_reuse_reconnects(sshd):
    loc = open_sftp(sshd)
    loc.write_atomic("a", b"1")
    loc.close()
    assert loc.read_bytes("a") == b"1"
    assert loc.connections == 2
    loc.close()


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "a\\b", "..", "", "a/\x00"])
def test_unsafe_paths_refused(sshd, bad):
    with open_sftp(sshd, "inner") as loc:
        for call in (
            lambda: loc.read_bytes(bad),
            lambda: loc.write_atomic(bad, b"x"),
            lambda: loc.stat(bad),
            lambda: loc.remove(bad),
            lambda: loc.link_or_copy("ok", bad, data=b"x"),
            lambda: loc.link_or_copy(bad, "ok", data=b"x"),
        ):
            with pytest.raises(UnsafePathError):
                call()
    assert local_names(sshd.root) == []


def test_connection_refused_is_retried_then_reported(sshd):
    sshd.stop()
    t0 = time.monotonic()
    with pytest.raises(SftpRetryError, match="connect failed after 3 attempt"):
        SftpLocation.from_url(sshd.url(), sshd.sftp_config(retries=2), backoff=0.05)
    assert time.monotonic() - t0 < 5
    sshd.start()
    loc = SftpLocation.from_url(sshd.url(), sshd.sftp_config(), connect=False)
    assert loc.connections == 0
    assert loc.list_files() == []
    assert loc.connections == 1
    loc.close()


def _retry_waits(caplog) -> list[float]:
    """The waits announced by the retry warnings ("...; retry 2/6 in 0.4 s")."""
    found = (re.search(r"; retry \d+/\d+ in ([\d.]+) s$", r.getMessage()) for r in caplog.records)
    return [float(m.group(1)) for m in found if m]


def test_retries_back_off_reconnect_and_give_up_against_sshd(sshd, caplog):
    """The tenacity policy against a real server: waits of ``backoff * 2**n`` plus up to
    ``backoff`` of jitter (``loc.backoff`` read at each call), a reconnection per attempt,
    every retry counted, then one one-line SftpRetryError; and success once sshd is back."""
    (sshd.root / "a.csv").write_bytes(b"x")
    loc = SftpLocation.from_url(sshd.url(), sshd.sftp_config(retries=3), connect=False)
    loc.backoff = 0.1
    sshd.stop()
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="pipeline.locations.sftp"):
        with pytest.raises(SftpRetryError) as err:
            loc.read_bytes("a.csv")
    elapsed = time.monotonic() - t0
    message = str(err.value)
    assert re.fullmatch(
        r".*: read_bytes\('a.csv'\) failed after 4 attempt\(s\) in [\d.]+ s: .+", message
    )
    assert "\n" not in message and isinstance(err.value.__cause__, OSError)
    waits = _retry_waits(caplog)
    assert len(waits) == loc.retries_used == 3 and loc.connections == 0
    for n, wait in enumerate(waits):
        assert 0.1 * 2**n - 0.05 <= wait <= 0.1 * 2**n + 0.1 + 0.05, waits
    assert 0.7 <= elapsed < 5

    caplog.clear()
    loc.retries_used = 0
    loc.backoff = 0.2
    loc.cfg = sshd.sftp_config(retries=6)  # room for a slow restart on a busy machine
    restart = threading.Timer(1.0, sshd.start)  # back while the location is backing off
    restart.start()
    try:
        with caplog.at_level(logging.WARNING, logger="pipeline.locations.sftp"):
            assert loc.read_bytes("a.csv") == b"x"
    finally:
        restart.join()
    waits = _retry_waits(caplog)
    assert len(waits) == loc.retries_used >= 2 and loc.connections == 1
    for n, wait in enumerate(waits):
        assert 0.2 * 2**n - 0.05 <= wait <= 0.2 * 2**n + 0.2 + 0.05, waits
    loc.close()
