"""OpenSSH extensions and the fallbacks without them (pipeline/locations/sftp/extensions.py)
against a real OpenSSH sshd (tests/plugins/sshd.py)."""

from __future__ import annotations

import os

import pytest

from tests.locations.sftp.helpers import local_names, open_sftp


def test_reads_larger_than_the_server_allows_are_completed(sshd):
    data = os.urandom(3 << 20)
    (sshd.root / "r.bin").write_bytes(data)
    with open_sftp(sshd) as loc:
        assert loc.read_bytes("r.bin") == data
        assert loc.connection.read_size > 32768  # limits@openssh.com was understood
        loc.connection.read_size = 1 << 20  # above OpenSSH's limit: every reply is short
        assert loc.read_bytes("r.bin") == data


def test_write_atomic_without_posix_rename_or_fsync(sshd):
    with open_sftp(sshd) as loc:
        loc.write_atomic("a.csv", b"old")
        for name in ("posix-rename@openssh.com", "fsync@openssh.com"):
            loc.connection.extensions[name] = False  # as if the server lacked them
        loc.write_atomic("a.csv", b"new")
        assert (sshd.root / "a.csv").read_bytes() == b"new"
        assert local_names(sshd.root) == ["a.csv"]


def test_link_or_copy_uses_openssh_hardlink(sshd):
    src = sshd.root / "2024-01-01_v1.csv"
    with open_sftp(sshd) as loc:
        loc.write_atomic("2024-01-01_v1.csv", b"payload")
        os.utime(src, (1_600_000_000, 1_600_000_000))
        loc.write_atomic("cumulative/latest.csv", b"old")
        assert loc.link_or_copy("2024-01-01_v1.csv", "cumulative/latest.csv") == "hardlink"
        dst = sshd.root / "cumulative/latest.csv"
        assert dst.read_bytes() == b"payload"
        assert dst.stat().st_ino == src.stat().st_ino
        assert loc.stat("cumulative/latest.csv").mtime == 1_600_000_000
        assert local_names(sshd.root) == ["2024-01-01_v1.csv", "cumulative/latest.csv"]


@pytest.mark.parametrize(
    ("drop", "data", "expected"),
    [
        ({"hardlink@openssh.com"}, None, "copy"),
        ({"hardlink@openssh.com", "copy-data"}, b"payload", "upload"),
        ({"hardlink@openssh.com", "copy-data"}, None, "upload"),
    ],
)
def test_link_or_copy_falls_back_without_extensions(sshd, drop, data, expected):
    with open_sftp(sshd) as loc:
        loc.write_atomic("src.csv", b"payload")
        os.utime(sshd.root / "src.csv", (1_600_000_000, 1_600_000_000))
        for name in drop:  # as if the server did not offer them
            loc.connection.extensions[name] = False
        assert loc.link_or_copy("src.csv", "d/dst.csv", data=data) == expected
        dst = sshd.root / "d/dst.csv"
        assert dst.read_bytes() == b"payload"
        assert dst.stat().st_ino != (sshd.root / "src.csv").stat().st_ino
        assert dst.stat().st_mtime == 1_600_000_000
        assert local_names(sshd.root) == ["d/dst.csv", "src.csv"]
