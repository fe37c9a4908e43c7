"""Moving bytes: downloads, uploads, and atomic writes (a temp name, fsync, a rename)."""

from __future__ import annotations

import errno
import logging
import posixpath
import socket
import stat as stat_mod
from collections.abc import Callable

import paramiko

from pipeline.locations.base import (
    Payload,
    UnsafePathError,
    payload_blocks,
    payload_size,
    temp_name,
)
from pipeline.locations.sftp import extensions
from pipeline.locations.sftp.connect import SftpConnection
from pipeline.locations.sftp.errors import TransferError

# One logger for the whole package, as when it was one module: CLI lines name it.
log = logging.getLogger(__package__)

CHUNK = 1024 * 1024  # bytes per write() call / upload progress report

Progress = Callable[[str, int, int], None]  # progress(path, done, total)


def download(
    conn: SftpConnection,
    sftp: paramiko.SFTPClient,
    target: str,
    size: int,
    path: str,
    progress: Progress | None,
) -> bytes:
    """Read exactly ``size`` bytes with paramiko's prefetch (every read request sent at
    once, the replies bounded by the channel's window).

    An early end of file, or data past ``size``, means the file changed meanwhile and
    raises :class:`TransferError` (retried).
    """
    read_size = extensions.read_size(conn, sftp)
    parts: list[bytes] = []
    done = 0
    with sftp.open(target, "rb") as fh:
        # MAX_REQUEST_SIZE is paramiko's (public) size of each prefetch request
        fh.MAX_REQUEST_SIZE = read_size
        fh.prefetch(size)
        while done < size:
            chunk = fh.read(min(read_size, size - done))
            if not chunk:
                raise TransferError(
                    f"{conn.url}: {path!r} ended at byte {done}, expected {size} "
                    "(changed while reading?)"
                )
            parts.append(chunk)
            done += len(chunk)
            if progress is not None:
                progress(path, done, size)
        if fh.read(1):
            raise TransferError(
                f"{conn.url}: {path!r} is longer than the {size} bytes reported "
                "(changed while reading?)"
            )
    return b"".join(parts)


def read_file(
    conn: SftpConnection,
    sftp: paramiko.SFTPClient,
    target: str,
    path: str,
    progress: Progress | None,
) -> bytes:
    """Download the regular file ``target`` (``path`` below the root) whole; its byte count
    must equal the size the server reports."""
    try:
        st = sftp.stat(target)
        if not stat_mod.S_ISREG(st.st_mode or 0):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", f"{conn.url}/{path}")
        data = download(conn, sftp, target, int(st.st_size or 0), path, progress)
    except FileNotFoundError as exc:
        raise FileNotFoundError(errno.ENOENT, "no such remote file", f"{conn.url}/{path}") from exc
    except PermissionError as exc:
        raise PermissionError(
            errno.EACCES, "permission denied reading remote file", f"{conn.url}/{path}"
        ) from exc
    return data


def upload(
    conn: SftpConnection,
    sftp: paramiko.SFTPClient,
    tmp: str,
    data: Payload,
    path: str,
    progress: Progress | None,
) -> None:
    """Write ``data`` (bytes, or a local file's) to the new file ``tmp`` (synced to the
    server's disk when it can, mode 0644); its size must come out as ``data``'s."""
    total = payload_size(data)
    with sftp.open(tmp, "wb") as fh:
        # Pipelined writes, except the last byte: paramiko drops the replies to pipelined
        # writes still pending at close, but an unpipelined write first waits for every
        # pending reply and raises the first error (a full disk, a quota).
        fh.set_pipelined(True)
        end = 0
        for block in payload_blocks(data, CHUNK):
            view = memoryview(block)
            end += len(view)
            if end == total:
                fh.write(view[:-1])
                fh.set_pipelined(False)
                fh.write(view[-1:])
            else:
                fh.write(view)
            if progress is not None:
                progress(path, end, total)
        extensions.fsync(conn, sftp, fh)
    size = sftp.stat(tmp).st_size
    if size != total:
        raise TransferError(f"{conn.url}: upload of {path!r} wrote {size} of {total} bytes")
    try:
        sftp.chmod(tmp, 0o644)
    except OSError:
        if not conn.alive():
            raise


def write_atomic(
    conn: SftpConnection,
    sftp: paramiko.SFTPClient,
    target: str,
    data: Payload,
    path: str,
    progress: Progress | None,
) -> None:
    """Upload to ``.name.<random>.tmp`` in the same folder, then rename over ``target``."""
    mkdirs(conn, sftp, posixpath.dirname(target))
    tmp = temp_path(target)
    try:
        upload(conn, sftp, tmp, data, path, progress)
        rename_over(conn, sftp, tmp, target)
    except BaseException:
        conn.discard(sftp, tmp)
        raise


def link_or_copy(
    conn: SftpConnection,
    sftp: paramiko.SFTPClient,
    source: str,
    target: str,
    src: str,
    data: bytes | None,
    progress: Progress | None,
) -> str:
    """Make ``target`` hold ``source``'s bytes through a temp name and a rename: a server
    hardlink, else a server copy, else ``data`` (or ``source``'s bytes) uploaded again.

    Returns ``"hardlink"``, ``"copy"`` or ``"upload"``.
    """
    try:
        st = sftp.stat(source)
    except FileNotFoundError:
        if data is None:
            raise FileNotFoundError(
                errno.ENOENT, "no such remote file", f"{conn.url}/{src}"
            ) from None
        st = None
    mkdirs(conn, sftp, posixpath.dirname(target))
    tmp = temp_path(target)
    try:
        how = fill_temp(conn, sftp, source, tmp, st, src, data, progress)
        rename_over(conn, sftp, tmp, target)
    except BaseException:
        conn.discard(sftp, tmp)
        raise
    # When dst already was src's inode (a re-run after a crash), the rename did
    # nothing and both names remain: drop the temp name.
    try:
        sftp.remove(tmp)
    except FileNotFoundError:
        pass
    return how


def fill_temp(
    conn: SftpConnection,
    sftp: paramiko.SFTPClient,
    source: str,
    tmp: str,
    st: paramiko.SFTPAttributes | None,
    src: str,
    data: bytes | None,
    progress: Progress | None,
) -> str:
    """Give the new name ``tmp`` ``source``'s bytes (``st``: its attributes, None when it is
    gone): a server hardlink, else a server copy, else an upload; returns which."""
    if st is not None:
        try:
            if extensions.hardlink(conn, sftp, source, tmp):
                return "hardlink"
        except OSError as exc:
            if not conn.alive() or isinstance(exc, (ConnectionError, socket.timeout)):
                raise
            log.info("%s: hardlink refused (%s); copying instead", conn.url, exc)
        try:
            if extensions.server_copy(conn, sftp, source, tmp, st, src):
                return "copy"
        except OSError as exc:
            if not conn.alive() or isinstance(exc, (ConnectionError, socket.timeout)):
                raise
            log.info("%s: server copy refused (%s); uploading instead", conn.url, exc)
            conn.discard(sftp, tmp)
    payload = data
    if payload is None:
        payload = download(conn, sftp, source, int(sftp.stat(source).st_size or 0), src, progress)
    upload(conn, sftp, tmp, payload, src, progress)
    if st is not None:
        sftp.utime(tmp, (st.st_atime or st.st_mtime, st.st_mtime))
    return "upload"


def temp_path(target: str) -> str:
    """A fresh temp name (:func:`~pipeline.locations.base.temp_name`) next to ``target``."""
    folder, name = posixpath.split(target)
    return posixpath.join(folder, temp_name(name))


def rename_over(conn: SftpConnection, sftp: paramiko.SFTPClient, src: str, dst: str) -> None:
    """Rename ``src`` to ``dst``, replacing it: atomically where the server can."""
    if extensions.posix_rename(conn, sftp, src, dst):
        return
    # no atomic replace on this server: the final name is briefly absent, never partial
    try:
        sftp.remove(dst)
    except FileNotFoundError:
        pass
    sftp.rename(src, dst)


def mkdirs(conn: SftpConnection, sftp: paramiko.SFTPClient, folder: str) -> None:
    """``mkdir -p`` of an absolute folder; below the root, symlinks are refused."""
    root = conn.root
    missing: list[str] = []
    cur = folder
    while True:
        try:
            attr = sftp.lstat(cur)
        except FileNotFoundError:
            missing.append(cur)
            parent = posixpath.dirname(cur)
            if parent == cur:
                break
            cur = parent
            continue
        inside = cur != root and cur.startswith(root.rstrip("/") + "/")
        if stat_mod.S_ISLNK(attr.st_mode or 0) and inside:
            raise UnsafePathError(f"{conn.url}: refusing to write through symlink {cur}")
        if not stat_mod.S_ISDIR(attr.st_mode or 0) and not stat_mod.S_ISLNK(attr.st_mode or 0):
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", cur)
        break
    for d in reversed(missing):
        try:
            sftp.mkdir(d)
        except OSError as exc:
            try:  # created concurrently by another writer?
                ok = stat_mod.S_ISDIR(sftp.lstat(d).st_mode or 0)
            except OSError:
                ok = False
            if not ok:
                raise exc from None
