"""Locations given as URLs: a local path or ``sftp://user@host:port/path``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.locations.base import (
    Location,
    LocationUnavailable,
    RemoteFile,
    UnsafePathError,
    is_temp_name,
    safe_relpath,
)
from pipeline.locations.local import LocalLocation

if TYPE_CHECKING:
    from pipeline.config import SftpConfig

__all__ = [
    "Location",
    "LocalLocation",
    "LocationUnavailable",
    "RemoteFile",
    "UnsafePathError",
    "is_sftp_url",
    "is_temp_name",
    "open_location",
    "safe_relpath",
]


def is_sftp_url(loc: str) -> bool:
    """True when ``loc`` names an SFTP location."""
    return loc.startswith("sftp://")


def open_location(loc: str, sftp: SftpConfig | None = None) -> Location:
    """Open a location from its URL (local path, ``file://`` path or ``sftp://``)."""
    if is_sftp_url(loc):
        from pipeline.config import SftpConfig
        from pipeline.locations.sftp import SftpLocation

        return SftpLocation.from_url(loc, sftp or SftpConfig())
    if loc.startswith("file://"):
        loc = loc[len("file://") :]
    return LocalLocation(loc)
