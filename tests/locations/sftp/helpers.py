"""Helpers of the SFTP location tests (a real OpenSSH sshd, tests/plugins/sshd.py)."""

from __future__ import annotations

from pathlib import Path

from pipeline.locations import open_location
from pipeline.locations.sftp import SftpLocation


def open_sftp(sshd, sub: str = "", **cfg) -> SftpLocation:
    """The location ``sshd.root/sub``, with ``cfg`` overriding the fixture's SftpConfig."""
    loc = open_location(sshd.url(sub), sshd.sftp_config(**cfg))
    assert isinstance(loc, SftpLocation)
    return loc


def local_names(folder: Path) -> list[str]:
    """Every file below ``folder`` (temp names too), as sorted relative paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
