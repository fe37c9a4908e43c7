"""SFTP locations against a real OpenSSH sshd (tests/plugins/sshd.py)."""

from __future__ import annotations

import errno
import logging
import os
import pwd
import re
import threading
import time
from pathlib import Path

import paramiko
import pytest

from pipeline.config import SftpConfig
from pipeline.locations import LocationUnavailable, UnsafePathError, open_location
from pipeline.locations.sftp import (
    HostKeyError,
    SftpAuthError,
    SftpLocation,
    SftpRetryError,
    TransferError,
    is_transient_error,
    parse_sftp_url,
    retry_call,
)
from tests.plugins.sshd_server import keygen
from tests.sftp_faults import Killer, LoginDropper

BIG = 50 * 1024 * 1024
_RSA = paramiko.RSAKey.generate(1024)


def _open(sshd, sub: str = "", **cfg) -> SftpLocation:
    loc = open_location(sshd.url(sub), sshd.sftp_config(**cfg))
    assert isinstance(loc, SftpLocation)
    return loc


def _big(seed: int) -> bytes:
    block = bytes((seed + i) % 251 for i in range(1 << 16))
    return block * (BIG // len(block))


def _local_names(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- basics


def test_round_trip_nested(sshd):
    loc = _open(sshd, "pub")
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
        assert _local_names(sshd.root / "pub") == [
            ".hidden",
            "2024/.tmpdir/x.csv",
            "2024/01/b.csv",
            "2024/c.csv",
        ]  # fmt: skip  (no temp files left behind)
    finally:
        loc.close()


def test_close_then_reuse_reconnects(sshd):
    loc = _open(sshd)
    loc.write_atomic("a", b"1")
    loc.close()
    assert loc.read_bytes("a") == b"1"
    assert loc.connections == 2
    loc.close()


def test_settings_reach_the_transport(sshd, monkeypatch):
    keepalives = []
    set_keepalive = paramiko.Transport.set_keepalive

    def spy(transport, interval):
        keepalives.append(interval)
        set_keepalive(transport, interval)

    monkeypatch.setattr(paramiko.Transport, "set_keepalive", spy)
    with _open(sshd, timeout=33.0, keepalive=7) as loc:
        transport = loc._ssh.get_transport()
        assert transport.banner_timeout == 33.0
        assert transport.auth_timeout == 33.0
        assert keepalives == [7]
        assert loc._sftp.get_channel().gettimeout() == 33.0


def test_write_atomic_never_shows_a_partial_file(sshd):
    old, new = b"o" * (8 << 20), b"n" * (24 << 20)
    target = sshd.root / "f.bin"
    with _open(sshd) as loc:
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


def test_relative_root_is_below_the_login_folder(sshd):
    home = pwd.getpwnam(sshd.user).pw_dir
    url = f"sftp://{sshd.user}@{sshd.host}:{sshd.port}/~/no-such-pipeline-dir"
    with open_location(url, sshd.sftp_config()) as loc:
        assert loc.root == os.path.normpath(f"{home}/no-such-pipeline-dir")
        with pytest.raises(LocationUnavailable, match="no-such-pipeline-dir: cannot list"):
            loc.list_files()  # an absent path is an error, not an empty drop
        assert loc.url == url


def test_parse_sftp_url():
    assert parse_sftp_url("sftp://u@h:2222/data/drop") == ("h", 2222, "u", "/data/drop")
    assert parse_sftp_url("sftp://u@h/~/drop/") == ("h", 22, "u", "drop")
    assert parse_sftp_url("sftp://u@h") == ("h", 22, "u", "")
    assert parse_sftp_url("sftp://u@h/~") == ("h", 22, "u", "")
    assert parse_sftp_url("sftp://u%40x@[::1]:22/a%20b") == ("::1", 22, "u@x", "/a b")
    with pytest.raises(ValueError, match="password"):
        parse_sftp_url("sftp://u:secret@h/x")
    with pytest.raises(ValueError):
        parse_sftp_url("ftp://u@h/x")


@pytest.mark.parametrize("size", [1, 32769, 261119, 261120, 261121, (3 << 20) + 5])
def test_sizes_around_the_request_size_round_trip(sshd, size):
    data = os.urandom(size)
    (sshd.root / "r.bin").write_bytes(data)
    with _open(sshd) as loc:
        seen = []
        loc.progress = lambda path, done, total: seen.append((path, done, total))
        assert loc.read_bytes("r.bin") == data
        assert seen[-1] == ("r.bin", size, size)
        assert [d for _, d, _ in seen] == sorted({d for _, d, _ in seen})
        loc.write_atomic("w.bin", data)
        assert (sshd.root / "w.bin").read_bytes() == data
        assert loc.retries_used == 0


def test_reads_larger_than_the_server_allows_are_completed(sshd):
    data = os.urandom(3 << 20)
    (sshd.root / "r.bin").write_bytes(data)
    with _open(sshd) as loc:
        assert loc.read_bytes("r.bin") == data
        assert loc._read_size > 32768  # limits@openssh.com was understood
        loc._read_size = 1 << 20  # above OpenSSH's limit: every reply is short
        assert loc.read_bytes("r.bin") == data


def test_upload_reports_a_write_refused_midway(sshd):
    """paramiko drops the replies to pipelined writes pending at close; the upload must not."""
    with _open(sshd) as loc:
        # every write to /dev/full fails (ENOSPC); 3 MiB is 96 write requests, fewer than
        # the 100 after which paramiko itself collects replies mid-transfer
        with pytest.raises(OSError) as err:
            loc._upload(loc._sftp, "/dev/full", b"x" * (3 << 20), "full.bin")
        assert not isinstance(err.value, (ConnectionError, TransferError))
        assert loc._alive()
        loc.write_atomic("after.csv", b"ok")  # the connection is still in step
        assert loc.read_bytes("after.csv") == b"ok" and loc.retries_used == 0


def test_write_atomic_without_posix_rename_or_fsync(sshd):
    with _open(sshd) as loc:
        loc.write_atomic("a.csv", b"old")
        for name in ("posix-rename@openssh.com", "fsync@openssh.com"):
            loc._extensions[name] = False  # as if the server lacked them
        loc.write_atomic("a.csv", b"new")
        assert (sshd.root / "a.csv").read_bytes() == b"new"
        assert _local_names(sshd.root) == ["a.csv"]


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

    with _open(sshd) as loc:
        loc.backoff = 0.01
        loc.progress = progress
        data = loc.read_bytes("live.csv")
        assert data == path.read_bytes()
        assert loc.retries_used == 1


# --------------------------------------------------------------------------- link_or_copy


def test_link_or_copy_uses_openssh_hardlink(sshd):
    src = sshd.root / "2024-01-01_v1.csv"
    with _open(sshd) as loc:
        loc.write_atomic("2024-01-01_v1.csv", b"payload")
        os.utime(src, (1_600_000_000, 1_600_000_000))
        loc.write_atomic("cumulative/latest.csv", b"old")
        assert loc.link_or_copy("2024-01-01_v1.csv", "cumulative/latest.csv") == "hardlink"
        dst = sshd.root / "cumulative/latest.csv"
        assert dst.read_bytes() == b"payload"
        assert dst.stat().st_ino == src.stat().st_ino
        assert loc.stat("cumulative/latest.csv").mtime == 1_600_000_000
        assert _local_names(sshd.root) == ["2024-01-01_v1.csv", "cumulative/latest.csv"]


@pytest.mark.parametrize(
    ("drop", "data", "expected"),
    [
        ({"hardlink@openssh.com"}, None, "copy"),
        ({"hardlink@openssh.com", "copy-data"}, b"payload", "upload"),
        ({"hardlink@openssh.com", "copy-data"}, None, "upload"),
    ],
)
def test_link_or_copy_falls_back_without_extensions(sshd, drop, data, expected):
    with _open(sshd) as loc:
        loc.write_atomic("src.csv", b"payload")
        os.utime(sshd.root / "src.csv", (1_600_000_000, 1_600_000_000))
        for name in drop:  # as if the server did not offer them
            loc._extensions[name] = False
        assert loc.link_or_copy("src.csv", "d/dst.csv", data=data) == expected
        dst = sshd.root / "d/dst.csv"
        assert dst.read_bytes() == b"payload"
        assert dst.stat().st_ino != (sshd.root / "src.csv").stat().st_ino
        assert dst.stat().st_mtime == 1_600_000_000
        assert _local_names(sshd.root) == ["d/dst.csv", "src.csv"]


def test_link_or_copy_missing_source(sshd):
    with _open(sshd) as loc:
        with pytest.raises(FileNotFoundError, match="nope.csv"):
            loc.link_or_copy("nope.csv", "dst.csv")
        assert loc.link_or_copy("nope.csv", "dst.csv", data=b"d") == "upload"
        assert (sshd.root / "dst.csv").read_bytes() == b"d"


# --------------------------------------------------------------------------- unsafe names


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "a\\b", "..", "", "a/\x00"])
def test_unsafe_paths_refused(sshd, bad):
    with _open(sshd, "inner") as loc:
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
    assert _local_names(sshd.root) == []


def test_unsafe_remote_names_and_symlinks(sshd, tmp_path):
    outside = sshd.root.parent / f"{sshd.root.name}-outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (sshd.root / "ok.csv").write_bytes(b"ok")
    (sshd.root / "we\\ird.csv").write_bytes(b"w")
    (sshd.root / "link.csv").symlink_to(outside / "secret")
    (sshd.root / "linkdir").symlink_to(outside)
    (sshd.root / "alias.csv").symlink_to(sshd.root / "ok.csv")  # inside: followed
    (sshd.root / "dangling.csv").symlink_to(sshd.root / "gone.csv")
    (sshd.root / "self").symlink_to(sshd.root)
    os.mkfifo(sshd.root / "pipe.csv")
    try:
        with _open(sshd) as loc:
            assert [f.path for f in loc.list_files()] == ["alias.csv", "ok.csv"]
            assert loc.unsafe_names == ["we\\ird.csv"]
            assert loc.skipped == {
                "dangling.csv": "dangling symlink",
                "link.csv": "symlink leads outside the location",
                "linkdir": "symlink leads outside the location",
                "pipe.csv": "not a regular file (FIFO, socket or device)",
                "self": "symlinked folder (not followed)",
                "we\\ird.csv": "unsafe name",
            }
            assert loc.read_bytes("alias.csv") == b"ok"
            with pytest.raises(UnsafePathError, match="outside the root"):
                loc.read_bytes("link.csv")
            with pytest.raises(UnsafePathError, match="outside the root"):
                loc.read_bytes("linkdir/secret")
            with pytest.raises(UnsafePathError, match="symlink"):
                loc.write_atomic("linkdir/new.csv", b"x")
            with pytest.raises(UnsafePathError, match="outside the root"):
                loc.link_or_copy("link.csv", "copy.csv")
        assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    finally:
        for p in outside.iterdir():
            p.unlink()
        outside.rmdir()


# --------------------------------------------------------------------------- host keys, auth


def test_unknown_host_refused_unless_allowed(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    before = sshd.connection_count()
    t0 = time.monotonic()
    with pytest.raises(HostKeyError, match="not in"):
        _open(sshd, known_hosts=str(empty))
    with pytest.raises(HostKeyError, match="not found"):
        _open(sshd, known_hosts=str(tmp_path / "missing"))
    assert time.monotonic() - t0 < 5
    assert sshd.connection_count() == before + 1  # never retried
    with _open(sshd, known_hosts=str(empty), allow_unknown_hosts=True) as loc:
        loc.write_atomic("x", b"1")
    assert empty.read_text() == ""  # never written


def test_changed_host_key_refused_even_when_unknown_hosts_allowed(sshd, tmp_path):
    other = keygen(tmp_path / "other_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(sshd.server.known_hosts_line(other.with_suffix(".pub").read_text()))
    before = sshd.connection_count()
    for allow in (False, True):
        with pytest.raises(HostKeyError, match="CHANGED"):
            _open(sshd, known_hosts=str(known), allow_unknown_hosts=allow, retries=5)
    assert sshd.connection_count() == before + 2


def test_hashed_known_hosts_entry(sshd, tmp_path):
    known = tmp_path / "known_hosts"
    name = f"[{sshd.host}]:{sshd.port}"
    known.write_text(f"{paramiko.HostKeys.hash_host(name)} {sshd.server.host_public_key()}\n")
    with _open(sshd, known_hosts=str(known)) as loc:
        assert loc.list_files() == []


def test_bad_password_refused_without_retrying(sshd, monkeypatch):
    monkeypatch.setenv("PIPELINE_TEST_SFTP_PW", "definitely-wrong")
    before = sshd.connection_count()
    t0 = time.monotonic()
    with pytest.raises(SftpAuthError, match="authentication failed"):
        _open(sshd, key_file=None, password_env="PIPELINE_TEST_SFTP_PW", retries=5)
    assert time.monotonic() - t0 < 5
    assert sshd.connection_count() == before + 1


@pytest.mark.parametrize("reset", [False, True], ids=["eof", "reset"])
def test_connection_dropped_during_login_is_retried(sshd, tmp_path, reset):
    """An EOF or reset while logging in is a network failure, not a refused login."""
    (sshd.root / "a.csv").write_bytes(b"x")
    proxy = LoginDropper(sshd.port, drops=2, reset=reset)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{proxy.port} {sshd.server.host_public_key()}\n")
    url = f"sftp://{sshd.user}@127.0.0.1:{proxy.port}{sshd.root}"
    try:
        cfg = sshd.sftp_config(known_hosts=str(known), retries=4)
        with SftpLocation.from_url(url, cfg, backoff=0.05) as loc:
            assert loc.read_bytes("a.csv") == b"x"
            assert proxy.dropped == 2 and loc.retries_used == 2 and loc.connections == 1
        proxy.remaining = 5  # more drops than retries: reported as what it is
        with pytest.raises(SftpRetryError, match="connection lost while logging in|Reset") as err:
            SftpLocation.from_url(url, sshd.sftp_config(known_hosts=str(known), retries=1))
        assert "authentication failed" not in str(err.value)
    finally:
        proxy.close()


def test_missing_credentials_are_clear(sshd, tmp_path, monkeypatch):
    monkeypatch.delenv("PIPELINE_TEST_SFTP_PW", raising=False)
    with pytest.raises(SftpAuthError, match="not found"):
        _open(sshd, key_file=str(tmp_path / "no_key"))
    with pytest.raises(SftpAuthError, match="PIPELINE_TEST_SFTP_PW"):
        _open(sshd, key_file=None, password_env="PIPELINE_TEST_SFTP_PW")
    with pytest.raises(SftpAuthError, match="no credentials"):
        _open(sshd, key_file=None)
    bad = tmp_path / "garbage_key"
    bad.write_text("not a key\n")
    with pytest.raises(SftpAuthError, match="cannot load"):
        _open(sshd, key_file=str(bad))


def test_password_login_and_unreadable_file(sshd, sshd_password_user, monkeypatch):
    name, password = sshd_password_user
    info = pwd.getpwnam(name)
    folder = sshd.root / "user"
    folder.mkdir()
    os.chown(folder, info.pw_uid, info.pw_gid)
    (folder / "locked.csv").write_bytes(b"secret")  # owned by root
    os.chmod(folder / "locked.csv", 0)
    monkeypatch.setenv("PIPELINE_TEST_SFTP_PW", password)
    cfg = sshd.sftp_config(key_file=None, password_env="PIPELINE_TEST_SFTP_PW")
    with open_location(sshd.url("user", user=name), cfg) as loc:
        loc.write_atomic("sub/mine.csv", b"mine")
        assert (folder / "sub/mine.csv").stat().st_uid == info.pw_uid
        assert [f.path for f in loc.list_files()] == ["locked.csv", "sub/mine.csv"]
        with pytest.raises(PermissionError, match="permission denied.*locked.csv") as err:
            loc.read_bytes("locked.csv")
        assert err.value.errno == errno.EACCES
        os.chmod(folder, 0o555)  # the user may no longer create anything here
        try:
            with pytest.raises(PermissionError, match=r"write_atomic.*user/new/x.csv"):
                loc.write_atomic("new/x.csv", b"x")
        finally:
            os.chmod(folder, 0o755)
        assert loc.retries_used == 0


# --------------------------------------------------------------------------- faults


def test_sshd_killed_mid_download_retries_after_restart(sshd):
    data = _big(1)
    (sshd.root / "big.bin").write_bytes(data)
    with _open(sshd, retries=6) as loc:
        loc.backoff = 0.2
        killer = Killer(sshd, at=len(data) // 5, downtime=0.5)
        loc.progress = killer.progress
        assert loc.read_bytes("big.bin") == data
        killer.join()
        assert killer.killed.is_set()
        assert loc.retries_used >= 1 and loc.connections >= 2


def test_sshd_killed_mid_download_without_restart_raises_cleanly(sshd):
    (sshd.root / "big.bin").write_bytes(_big(2))
    with _open(sshd, retries=1) as loc:
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
    with _open(sshd, retries=6) as loc:
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
        assert _local_names(sshd.root) == ["out/f.bin"]


def test_sshd_killed_mid_upload_without_restart_leaves_old_file(sshd):
    old, new = b"old\n" * 1000, _big(4)
    with _open(sshd, retries=1) as loc:
        loc.backoff = 0.1
        loc.write_atomic("f.bin", old)
        killer = Killer(sshd, at=len(new) // 5, downtime=None)
        loc.progress = killer.progress
        with pytest.raises(SftpRetryError, match="write_atomic"):
            loc.write_atomic("f.bin", new)
        killer.join()
    assert (sshd.root / "f.bin").read_bytes() == old  # never partial, never missing
    sshd.start()
    with _open(sshd) as loc:
        assert [f.path for f in loc.list_files()] == ["f.bin"]  # temp names are hidden


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


# --------------------------------------------------------------------------- retry helper


def test_retry_call_backs_off_and_gives_up():
    calls, sleeps, retried = [], [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        return "ok"

    out = retry_call(
        flaky, retries=4, backoff=1.0, sleep=sleeps.append,
        on_retry=lambda n, exc, d: retried.append(n),
    )  # fmt: skip
    assert out == "ok" and len(calls) == 3 and retried == [0, 1]
    assert 1.0 <= sleeps[0] <= 2.0 and 2.0 <= sleeps[1] <= 3.0  # backoff * 2**n + jitter

    def always():
        raise EOFError("gone")

    sleeps.clear()
    with pytest.raises(SftpRetryError, match="failed after 4 attempt") as err:
        retry_call(always, retries=3, backoff=10, max_backoff=15, sleep=sleeps.append)
    assert isinstance(err.value.__cause__, EOFError)
    assert len(sleeps) == 3 and max(sleeps) <= 15 + 10  # capped, then jittered


@pytest.mark.parametrize(
    "exc",
    [
        paramiko.AuthenticationException("no"),
        paramiko.BadHostKeyException("h", _RSA, _RSA),
        HostKeyError("changed"),
        SftpAuthError("no"),
        UnsafePathError("../x"),
        FileNotFoundError(errno.ENOENT, "missing"),
        PermissionError(errno.EACCES, "denied"),
        ValueError("bug"),
    ],
)
def test_permanent_errors_are_not_retried(exc):
    calls = []

    def fail():
        calls.append(1)
        raise exc

    with pytest.raises(type(exc)):
        retry_call(fail, retries=5, sleep=lambda d: pytest.fail("slept"))
    assert calls == [1]
    assert not is_transient_error(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError(errno.ECONNRESET, "reset"),
        BrokenPipeError(errno.EPIPE, "pipe"),
        EOFError(),
        TimeoutError("timed out"),
        paramiko.SSHException("Error reading SSH protocol banner"),
        OSError(errno.ENETUNREACH, "unreachable"),
        TransferError("short"),
    ],
)
def test_transient_errors(exc):
    assert is_transient_error(exc)


def test_default_config_has_safe_timeouts():
    cfg = SftpConfig()
    assert cfg.timeout >= 30 and cfg.keepalive > 0 and cfg.retries >= 1
    assert cfg.allow_unknown_hosts is False
