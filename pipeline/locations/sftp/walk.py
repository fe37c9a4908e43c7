"""Walking the location's tree: listing files, following symlinks only to regular files
inside the root, skipping special files and unsafe names, and sweeping temp names."""

from __future__ import annotations

import logging
import posixpath
import stat as stat_mod

import paramiko

from pipeline.locations.base import (
    HIDDEN_NAME,
    LocationUnavailable,
    RemoteFile,
    UnsafePathError,
    is_temp_name,
    safe_relpath,
)
from pipeline.locations.sftp.connect import SftpConnection

# One logger for the whole package, as when it was one module: CLI lines name it.
log = logging.getLogger(__package__)


def list_files(
    conn: SftpConnection,
    sftp: paramiko.SFTPClient,
    unsafe_names: list[str],
    skipped: dict[str, str],
) -> list[RemoteFile]:
    """All regular files below the root, recursively, sorted by path.

    Names starting with ``.`` are left out silently (kept in ``skipped`` with
    :data:`HIDDEN_NAME` unless they are temp names). Every other name not listed is added
    to ``skipped`` with the reason (and a warning); those :func:`safe_relpath` refuses go
    to ``unsafe_names`` too. A root that does not exist, is not a folder or cannot be
    listed raises :class:`LocationUnavailable`.
    """
    out: list[RemoteFile] = []
    try:
        top = sftp.stat(conn.root)
    except FileNotFoundError:
        raise LocationUnavailable(f"{conn.url}: cannot list the location: no such folder") from None
    if not stat_mod.S_ISDIR(top.st_mode or 0):
        raise LocationUnavailable(f"{conn.url}: cannot list the location: not a folder")
    todo = [""]
    while todo:
        rel_dir = todo.pop()
        folder = posixpath.join(conn.root, rel_dir) if rel_dir else conn.root
        try:
            entries = sftp.listdir_attr(folder)
        except PermissionError:
            if not rel_dir:
                raise LocationUnavailable(
                    f"{conn.url}: cannot list the location: permission denied"
                ) from None
            _skip(conn, skipped, rel_dir, "folder cannot be listed (permission denied)")
            continue
        for attr in entries:
            name = attr.filename
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name.startswith("."):
                if not is_temp_name(name):
                    skipped[rel] = HIDDEN_NAME
                continue
            try:
                if safe_relpath(rel) != rel or "/" in name:
                    raise UnsafePathError(rel)
            except UnsafePathError:
                unsafe_names.append(rel)
                _skip(conn, skipped, rel, "unsafe name")
                continue
            mode = attr.st_mode or 0
            if stat_mod.S_ISLNK(mode):
                attr = _follow(conn, sftp, posixpath.join(folder, name), rel, skipped)
                if attr is None:
                    continue
                mode = attr.st_mode or 0
            if stat_mod.S_ISDIR(mode):
                todo.append(rel)
            elif stat_mod.S_ISREG(mode):
                out.append(RemoteFile(rel, int(attr.st_size or 0), float(attr.st_mtime or 0)))
            else:
                _skip(conn, skipped, rel, "not a regular file (FIFO, socket or device)")
    return sorted(out, key=lambda f: f.path)


def _skip(conn: SftpConnection, skipped: dict[str, str], rel: str, reason: str) -> None:
    skipped[rel] = reason
    log.warning("%s: skipping %r: %s", conn.url, rel, reason)


def _follow(
    conn: SftpConnection,
    sftp: paramiko.SFTPClient,
    abspath: str,
    rel: str,
    skipped: dict[str, str],
) -> paramiko.SFTPAttributes | None:
    """The target's attributes of a listed symlink to a regular file inside the root,
    or None (skipped with a warning)."""
    try:
        real_root = conn.real_root(sftp)
        real = sftp.normalize(abspath)
    except FileNotFoundError:
        _skip(conn, skipped, rel, "dangling symlink")
        return None
    base = real_root.rstrip("/")
    if real != base and not real.startswith(base + "/"):
        _skip(conn, skipped, rel, "symlink leads outside the location")
        return None
    try:
        attr = sftp.stat(abspath)
    except FileNotFoundError:
        _skip(conn, skipped, rel, "dangling symlink")
        return None
    if stat_mod.S_ISDIR(attr.st_mode or 0):
        _skip(conn, skipped, rel, "symlinked folder (not followed)")
        return None
    return attr


def check_inside(conn: SftpConnection, sftp: paramiko.SFTPClient, abspath: str, path: str) -> None:
    """Refuse a path whose symlinks lead outside the root."""
    try:
        real_root = conn.real_root(sftp)
        real = sftp.normalize(abspath)
    except FileNotFoundError:
        return  # nothing there: the caller's own call reports it
    base = real_root.rstrip("/")
    if real != base and not real.startswith(base + "/"):
        raise UnsafePathError(f"{conn.url}: {path!r} leads outside the root (to {real})")


def remove_temp_files(sftp: paramiko.SFTPClient, root: str) -> list[str]:
    """Remove temp names (``.{name}.{hex}.tmp``) that killed uploads left below ``root``
    (symlinks are not followed); a missing root has none."""
    removed: list[str] = []
    try:
        sftp.stat(root)
    except FileNotFoundError:
        return removed
    todo = [""]
    while todo:
        rel_dir = todo.pop()
        folder = posixpath.join(root, rel_dir) if rel_dir else root
        for attr in sftp.listdir_attr(folder):
            rel = f"{rel_dir}/{attr.filename}" if rel_dir else attr.filename
            mode = attr.st_mode or 0
            if stat_mod.S_ISDIR(mode) and not attr.filename.startswith("."):
                todo.append(rel)
            elif stat_mod.S_ISREG(mode) and is_temp_name(attr.filename):
                try:
                    sftp.remove(posixpath.join(folder, attr.filename))
                except FileNotFoundError:
                    continue
                removed.append(rel)
    return sorted(removed)
