"""Connecting (pipeline/locations/sftp/connect.py): URLs, host keys, credentials, logins
against a real OpenSSH sshd (tests/plugins/sshd.py)."""

from __future__ import annotations

import errno
import os
import pwd
import time

import paramiko
import pytest

from pipeline.config import SftpConfig
from pipeline.locations import LocationUnavailable, open_location
from pipeline.locations.sftp.connect import parse_sftp_url
from pipeline.locations.sftp.errors import HostKeyError, SftpAuthError, SftpRetryError
from pipeline.locations.sftp.location import SftpLocation
from tests.locations.sftp.helpers import open_sftp
from tests.plugins.sshd_server import keygen
from tests.sftp_faults import LoginDropper


def test_settings_reach_the_transport(sshd, monkeypatch):
    keepalives = []
    set_keepalive = paramiko.Transport.set_keepalive

    def spy(transport, interval):
        keepalives.append(interval)
        set_keepalive(transport, interval)

    monkeypatch.setattr(paramiko.Transport, "set_keepalive", spy)
    with open_sftp(sshd, timeout=33.0, keepalive=7) as loc:
        transport = loc.connection.ssh.get_transport()
        assert transport.banner_timeout == 33.0
        assert transport.auth_timeout == 33.0
        assert keepalives == [7]
        assert loc.connection.sftp.get_channel().gettimeout() == 33.0


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


def test_unknown_host_refused_unless_allowed(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    before = sshd.connection_count()
    t0 = time.monotonic()
    with pytest.raises(HostKeyError, match="not in"):
        open_sftp(sshd, known_hosts=str(empty))
    with pytest.raises(HostKeyError, match="not found"):
        open_sftp(sshd, known_hosts=str(tmp_path / "missing"))
    assert time.monotonic() - t0 < 5
    assert sshd.connection_count() == before + 1  # never retried
    with open_sftp(sshd, known_hosts=str(empty), allow_unknown_hosts=True) as loc:
        loc.write_atomic("x", b"1")
    assert empty.read_text() == ""  # never written


def test_changed_host_key_refused_even_when_unknown_hosts_allowed(sshd, tmp_path):
    other = keygen(tmp_path / "other_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(sshd.server.known_hosts_line(other.with_suffix(".pub").read_text()))
    before = sshd.connection_count()
    for allow in (False, True):
        with pytest.raises(HostKeyError, match="CHANGED"):
            open_sftp(sshd, known_hosts=str(known), allow_unknown_hosts=allow, retries=5)
    assert sshd.connection_count() == before + 2


def test_hashed_known_hosts_entry(sshd, tmp_path):
    known = tmp_path / "known_hosts"
    name = f"[{sshd.host}]:{sshd.port}"
    known.write_text(f"{paramiko.HostKeys.hash_host(name)} {sshd.server.host_public_key()}\n")
    with open_sftp(sshd, known_hosts=str(known)) as loc:
        assert loc.list_files() == []


def test_bad_password_refused_without_retrying(sshd, monkeypatch):
    monkeypatch.setenv("PIPELINE_TEST_SFTP_PW", "definitely-wrong")
    before = sshd.connection_count()
    t0 = time.monotonic()
    with pytest.raises(SftpAuthError, match="authentication failed"):
        open_sftp(sshd, key_file=None, password_env="PIPELINE_TEST_SFTP_PW", retries=5)
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
        open_sftp(sshd, key_file=str(tmp_path / "no_key"))
    with pytest.raises(SftpAuthError, match="PIPELINE_TEST_SFTP_PW"):
        open_sftp(sshd, key_file=None, password_env="PIPELINE_TEST_SFTP_PW")
    with pytest.raises(SftpAuthError, match="no credentials"):
        open_sftp(sshd, key_file=None)
    bad = tmp_path / "garbage_key"
    bad.write_text("not a key\n")
    with pytest.raises(SftpAuthError, match="cannot load"):
        open_sftp(sshd, key_file=str(bad))


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


def test_default_config_has_safe_timeouts():
    cfg = SftpConfig()
    assert cfg.timeout >= 30 and cfg.keepalive > 0 and cfg.retries >= 1
    assert cfg.allow_unknown_hosts is False
