"""The immutable, content-addressed raw archive and the quarantine folder (SPEC §2, §6)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from pipeline.staging import write_bytes_atomic


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class ArchiveCorruptError(RuntimeError):
    """An archived file's bytes do not match the SHA-256 they are stored under."""


class Archive:
    """Raw bytes stored once under ``{root}/{sha[:2]}/{sha}``; never modified or deleted."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self.checked: set[str] = set()  # digests whose bytes this process wrote or verified

    def path(self, digest: str) -> Path:
        """Where the bytes with hash ``digest`` live."""
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` (before it is parsed) and return its SHA-256."""
        digest = sha256(data)
        target = self.path(digest)
        if not target.exists():
            write_bytes_atomic(target, data, durable=True)
        self.checked.add(digest)
        return digest

    def get(self, digest: str) -> bytes:
        """The archived bytes of ``digest``, checked against it once per process (bytes this
        process stored are not hashed again): bytes changed on disk stop the run with
        :class:`ArchiveCorruptError` rather than reach a published file."""
        path = self.path(digest)
        data = path.read_bytes()
        if digest in self.checked:
            return data
        if sha256(data) != digest:
            raise ArchiveCorruptError(
                f"{path}: the archived bytes no longer match their SHA-256 (changed on disk); "
                "restore the file from a backup of the archive"
            )
        self.checked.add(digest)
        return data

    def quarantine(self, digest: str, name: str, error: str) -> Path:
        """Keep a bad file's bytes and its error side by side under ``quarantine/``.

        ``error`` is written as given: callers pass messages that name the file, line and
        column only (SPEC §6), never the file's content; the raw bytes stay here.
        """
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
        target = self.root / "quarantine" / f"{digest[:12]}_{safe}"
        if not target.exists():
            write_bytes_atomic(target, self.get(digest), durable=True)
        error_file = target.with_name(target.name + ".error.txt")
        write_bytes_atomic(error_file, (error + "\n").encode(), durable=True)
        return target
