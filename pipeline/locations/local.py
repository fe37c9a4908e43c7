"""A location that is a folder on the local file system."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from pipeline.locations.base import RemoteFile, safe_relpath


class LocalLocation:
    """Local folder; writes are atomic (temp file in the same folder + ``os.replace``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def _abs(self, path: str) -> Path:
        return self.root / safe_relpath(path)

    def list_files(self) -> list[RemoteFile]:
        if not self.root.exists():
            return []
        out: list[RemoteFile] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.startswith("."):  # temp names of in-progress writes
                    continue
                full = Path(dirpath) / name
                st = full.stat()
                rel = full.relative_to(self.root).as_posix()
                out.append(RemoteFile(rel, st.st_size, st.st_mtime))
        return sorted(out, key=lambda f: f.path)

    def read_bytes(self, path: str) -> bytes:
        return self._abs(path).read_bytes()

    def stat(self, path: str) -> RemoteFile | None:
        try:
            st = self._abs(path).stat()
        except FileNotFoundError:
            return None
        return RemoteFile(safe_relpath(path), st.st_size, st.st_mtime)

    def write_atomic(self, path: str, data: bytes) -> None:
        target = self._abs(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def link_or_copy(self, src: str, dst: str, data: bytes | None = None) -> str:
        source, target = self._abs(src), self._abs(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.link.tmp"
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
            how = "hardlink"
        except OSError:
            shutil.copy2(source, tmp)
            how = "copy"
        os.replace(tmp, target)
        return how

    def remove(self, path: str) -> None:
        self._abs(path).unlink(missing_ok=True)

    def close(self) -> None:
        return None
