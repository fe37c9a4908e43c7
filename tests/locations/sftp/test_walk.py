"""Listing the tree (pipeline/locations/sftp/walk.py): unsafe names, symlinks, special files,
against a real OpenSSH sshd (tests/plugins/sshd.py)."""

from __future__ import annotations

import os

import pytest

from pipeline.locations import UnsafePathError
from tests.locations.sftp.helpers import open_sftp


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
        with open_sftp(sshd) as loc:
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
