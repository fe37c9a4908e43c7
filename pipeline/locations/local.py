"""A location that is a folder on the local file system."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat as stat_mod
from pathlib import Path

from pipeline.locations.base import (
    HIDDEN_NAME,
    LocationUnavailable,
    Payload,
    RemoteFile,
    UnsafePathError,
    is_temp_name,
    payload_blocks,
    safe_relpath,
    temp_name,
)

log = logging.getLogger(__name__)


class LocalLocation:
    """Local folder; writes are atomic (temp file in the same folder + ``os.replace``).

    Listing treats the folder like an SFTP drop (SPEC §6): symlinks are followed only to
    regular files inside the root; links leading outside or nowhere, symlinked folders and
    special files (FIFOs, sockets, devices) are skipped with a warning and never opened.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        self.unsafe_names: list[str] = []  # names refused by safe_relpath (last list_files)
        self.skipped: dict[str, str] = {}  # every name the last list_files skipped: reason

    def _abs(self, path: str) -> Path:
        return self.root / safe_relpath(path)

    def _inside(self, real: str) -> bool:
        return real == str(self.root) or real.startswith(str(self.root).rstrip("/") + "/")

    def _skip(self, rel: str, reason: str) -> None:
        self.skipped[rel] = reason
        log.warning("%s: skipping %r: %s", self.url, rel, reason)

    def list_files(self) -> list[RemoteFile]:
        """All regular files below the root (see the class docstring for what is skipped)."""
        try:
            top = os.stat(self.root)
        except OSError as exc:
            reason = "no such folder" if isinstance(exc, FileNotFoundError) else exc.strerror
            raise LocationUnavailable(f"{self.url}: cannot list the location: {reason}") from None
        if not stat_mod.S_ISDIR(top.st_mode):
            raise LocationUnavailable(f"{self.url}: cannot list the location: not a folder")
        self.unsafe_names, self.skipped = [], {}
        out: list[RemoteFile] = []
        todo = [""]
        while todo:
            rel_dir = todo.pop()
            try:
                with os.scandir(self.root / rel_dir) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                if not rel_dir:
                    raise LocationUnavailable(
                        f"{self.url}: cannot list the location: {exc.strerror}"
                    ) from None
                self._skip(rel_dir, f"folder cannot be listed ({exc.strerror})")
                continue
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.name.startswith("."):  # temp names of in-progress writes, hidden
                    if not is_temp_name(entry.name):
                        self.skipped[rel] = HIDDEN_NAME
                    continue
                try:
                    if safe_relpath(rel) != rel:
                        raise UnsafePathError(rel)
                except UnsafePathError:
                    self.unsafe_names.append(rel)
                    self._skip(rel, "unsafe name")
                    continue
                found = self._entry(entry, rel)
                if found == "folder":
                    todo.append(rel)
                elif found is not None:
                    out.append(found)
        return sorted(out, key=lambda f: f.path)

    def _entry(self, entry: os.DirEntry[str], rel: str) -> RemoteFile | str | None:
        """A listed file, ``"folder"`` to descend into, or None (skipped)."""
        try:
            st = entry.stat(follow_symlinks=False)
            if stat_mod.S_ISLNK(st.st_mode):
                if not self._inside(os.path.realpath(entry.path)):
                    self._skip(rel, "symlink leads outside the location")
                    return None
                try:
                    st = os.stat(entry.path)
                except OSError:
                    self._skip(rel, "dangling symlink")
                    return None
                if stat_mod.S_ISDIR(st.st_mode):
                    self._skip(rel, "symlinked folder (not followed)")
                    return None
        except FileNotFoundError:  # removed while listing
            return None
        if stat_mod.S_ISDIR(st.st_mode):
            return "folder"
        if not stat_mod.S_ISREG(st.st_mode):
            self._skip(rel, "not a regular file (FIFO, socket or device)")
            return None
        return RemoteFile(rel, st.st_size, st.st_mtime)

    def read_bytes(self, path: str) -> bytes:
        """Read one regular file inside the root (never a FIFO or device: no hang)."""
        real = os.path.realpath(self._abs(path))
        if not self._inside(real):
            raise UnsafePathError(f"{self.url}: {path!r} leads outside the root")
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            if not stat_mod.S_ISREG(os.fstat(fd).st_mode):
                raise IsADirectoryError(errno.EISDIR, "not a regular file", f"{self.url}/{path}")
            return fh.read()

    def stat(self, path: str) -> RemoteFile | None:
        try:
            st = self._abs(path).stat()
        except FileNotFoundError:
            return None
        return RemoteFile(safe_relpath(path), st.st_size, st.st_mtime)

    def write_atomic(self, path: str, data: Payload) -> None:
        target = self._abs(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / temp_name(target.name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                for block in payload_blocks(data):
                    fh.write(block)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            # ENOSPC and the like carry no file name: say which location and file
            raise OSError(exc.errno, f"{self.url}: writing {path}: {exc.strerror}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def link_or_copy(self, src: str, dst: str, data: bytes | None = None) -> str:
        """Hard link (else copy) ``src`` to ``dst`` through ``.{dst}.link.tmp``.

        Idempotent: when ``dst`` already is ``src`` (a re-run after a crash), nothing is
        done. ``rename(2)`` of two names of one file does nothing and keeps both, so the
        temp name is removed before and after in any case.
        """
        source, target = self._abs(src), self._abs(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / temp_name(target.name, "link")
        tmp.unlink(missing_ok=True)  # left by a killed run
        try:
            if os.path.samestat(os.stat(source), os.stat(target)):
                return "hardlink"
        except FileNotFoundError:
            pass
        try:
            try:
                os.link(source, tmp)
                how = "hardlink"
            except FileNotFoundError:
                raise
            except OSError:  # another file system, or links not allowed
                shutil.copy2(source, tmp)
                how = "copy"
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return how

    def remove(self, path: str) -> None:
        self._abs(path).unlink(missing_ok=True)

    def remove_temp_files(self) -> list[str]:
        """Remove temp names of killed writes anywhere below the root (symlinks not followed)."""
        removed: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                full = Path(dirpath) / name
                if is_temp_name(name) and full.is_file() and not full.is_symlink():
                    full.unlink(missing_ok=True)
                    removed.append(full.relative_to(self.root).as_posix())
        return removed

    def close(self) -> None:
        return None
