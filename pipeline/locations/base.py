"""The one interface every storage location (local folder, SFTP) implements."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Protocol


class UnsafePathError(ValueError):
    """A relative path would escape its location's root folder."""


@dataclass(frozen=True)
class RemoteFile:
    """A file found in a location: path relative to the root (POSIX separators), size, mtime."""

    path: str
    size: int
    mtime: float


def safe_relpath(path: str) -> str:
    """Normalise ``path`` relative to a root and refuse anything that would escape it.

    Absolute paths, ``..`` components, backslashes and NUL bytes are refused.
    """
    if not path or "\x00" in path or "\\" in path:
        raise UnsafePathError(f"refusing unsafe path {path!r}")
    if path.startswith("/"):
        raise UnsafePathError(f"refusing absolute path {path!r}")
    parts = path.split("/")
    if any(p == ".." for p in parts):
        raise UnsafePathError(f"refusing path with '..': {path!r}")
    norm = posixpath.normpath(path)
    if norm in (".", "") or norm.startswith(".."):
        raise UnsafePathError(f"refusing unsafe path {path!r}")
    return norm


class Location(Protocol):
    """A folder that files are listed from, read from and published to.

    Every path argument is relative to the location's root and checked with
    :func:`safe_relpath`.
    """

    url: str

    def list_files(self) -> list[RemoteFile]:
        """All regular files below the root, recursively, sorted by path."""
        ...

    def read_bytes(self, path: str) -> bytes:
        """The whole content of one file."""
        ...

    def stat(self, path: str) -> RemoteFile | None:
        """Size and mtime of one file, or None when it does not exist."""
        ...

    def write_atomic(self, path: str, data: bytes) -> None:
        """Write to a temporary name in the same folder, then rename over ``path``."""
        ...

    def link_or_copy(self, src: str, dst: str, data: bytes | None = None) -> str:
        """Make ``dst`` hold the same bytes as ``src`` without re-sending them where possible.

        Returns how it was done: ``"hardlink"``, ``"copy"`` or ``"upload"`` (``data``
        sent again, the fallback when the server has neither). ``dst`` appears atomically.
        """
        ...

    def remove(self, path: str) -> None:
        """Delete one file (used only for superseded cumulative files and temp names)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
