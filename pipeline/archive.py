"""The immutable, content-addressed raw archive and the quarantine folder (SPEC §2, §6)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class ArchiveCorruptError(RuntimeError):
    """An archived file's bytes do not match the SHA-256 they are stored under."""


class Archive:
    """Raw bytes stored once under ``{root}/{sha[:2]}/{sha}``; never modified or deleted."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()

    def path(self, digest: str) -> Path:
        """Where the bytes with hash ``digest`` live."""
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` (before it is parsed) and return its SHA-256."""
        digest = sha256(data)
        target = self.path(digest)
        if not target.exists():
            _atomic_write(target, data)
        return digest

    def get(self, digest: str) -> bytes:
        """The archived bytes of ``digest``, checked against it: bytes changed on disk stop
        the run with :class:`ArchiveCorruptError` rather than reach a published file."""
        path = self.path(digest)
        data = path.read_bytes()
        if sha256(data) != digest:
            raise ArchiveCorruptError(
                f"{path}: the archived bytes no longer match their SHA-256 (changed on disk); "
                "restore the file from a backup of the archive"
            )
        return data

    def quarantine(self, digest: str, name: str, error: str) -> Path:
        """Keep a bad file's bytes and its error side by side under ``quarantine/``.

        ``error`` is written as given: callers pass messages that name the file, line and
        column only (SPEC §6), never the file's content; the raw bytes stay here.
        """
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
        target = self.root / "quarantine" / f"{digest[:12]}_{safe}"
        if not target.exists():
            _atomic_write(target, self.get(digest))
        _atomic_write(target.with_name(target.name + ".error.txt"), (error + "\n").encode())
        return target


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # a full disk, say: no half-written temp stays
        raise
