"""The one interface every storage location (local folder, SFTP) implements."""

from __future__ import annotations

import posixpath
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

BLOCK = 1 << 20  # bytes per read of a local file sent as a payload

# What a write sends: bytes, or a local file (a spooled large file).
Payload = bytes | Path


def payload_size(data: Payload) -> int:
    """The number of bytes ``data`` holds."""
    return data.stat().st_size if isinstance(data, Path) else len(data)


def payload_blocks(data: Payload, size: int = BLOCK) -> Iterator[bytes | memoryview]:
    """``data`` in blocks of at most ``size`` bytes (none when it is empty)."""
    if isinstance(data, Path):
        with data.open("rb") as fh:
            while block := fh.read(size):
                yield block
        return
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield view[start : start + size]


class UnsafePathError(ValueError):
    """A relative path would escape its location's root folder."""


class LocationUnavailable(Exception):
    """A location's root folder cannot be listed (missing, unmounted, not a folder).

    The message is one line naming the location (its URL, never credentials).
    """


@dataclass(frozen=True)
class RemoteFile:
    """A file found in a location: path relative to the root (POSIX separators), size, mtime."""

    path: str
    size: int
    mtime: float


# Temporary names of atomic writes: ``.{name}.{12 hex digits}.tmp`` (uploads, server-side
# copies) and ``.{name}.link.tmp`` (local hard links). Older local writes used mkstemp's
# 8 characters; those are recognised too, so leftovers of any version can be swept.
TEMP_NAME_RE = re.compile(r"^\..+\.(?:link|[0-9a-f]{12}|[0-9a-z_]{8})\.tmp$")

# Why a listing leaves out a name that starts with ``.`` (other than a temp name): it is
# recorded in a location's ``skipped`` without a warning; callers warn for the names they
# would have read (:mod:`pipeline.fetching`).
HIDDEN_NAME = "name starts with '.' (hidden, or an upload in progress)"


def temp_name(name: str, tag: str | None = None) -> str:
    """The temporary name (same folder) that a write of ``name`` goes through."""
    return f".{name}.{tag or secrets.token_hex(6)}.tmp"


def is_temp_name(name: str) -> bool:
    """True for a file name that :func:`temp_name` makes (the last path component)."""
    return bool(TEMP_NAME_RE.match(name))


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
    skipped: dict[str, str]  # by the last listing: relative name -> why (see list_files)

    def list_files(self) -> list[RemoteFile]:
        """All regular files below the root, recursively, sorted by path.

        Names that start with ``.`` are skipped (those that are not temp names are kept
        in ``skipped`` with :data:`HIDDEN_NAME`, without a warning); so are, with a
        warning, names that :func:`safe_relpath` refuses, symlinks that lead outside the
        root or nowhere, symlinked folders and special files (FIFOs, sockets, devices):
        they are never read. ``skipped`` maps each skipped name (relative path) to its
        reason. Raises :class:`LocationUnavailable` when the root cannot be listed.
        """
        ...

    def read_bytes(self, path: str) -> bytes:
        """The whole content of one regular file."""
        ...

    def stat(self, path: str) -> RemoteFile | None:
        """Size and mtime of one file, or None when it does not exist."""
        ...

    def write_atomic(self, path: str, data: Payload) -> None:
        """Write to a temporary name in the same folder, then rename over ``path``.
        ``data``: the bytes, or a local file whose bytes are sent (read in blocks: a file
        larger than memory, the cumulative file of a large study)."""
        ...

    def link_or_copy(self, src: str, dst: str, data: bytes | None = None) -> str:
        """Make ``dst`` hold the same bytes as ``src`` without re-sending them where possible.

        Returns how it was done: ``"hardlink"``, ``"copy"`` or ``"upload"`` (``data``
        sent again, the fallback when the server has neither). ``dst`` appears atomically,
        and calling it again (after a crash) leaves no temporary name behind.
        """
        ...

    def remove(self, path: str) -> None:
        """Delete one file (used only for superseded cumulative files and temp names)."""
        ...

    def remove_temp_files(self) -> list[str]:
        """Remove the temporary names (:func:`temp_name`) that writes of a killed process
        left below the root; returns their paths. A missing root has none."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
