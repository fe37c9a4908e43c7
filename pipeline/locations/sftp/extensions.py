"""OpenSSH protocol extensions: posix-rename, hardlink, server-side copy, fsync, limits.

Each is tried once per connection; a server that answers the first request with an SFTP
status without errno lacks it, and the caller falls back (see :func:`use_extension`).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import paramiko
from paramiko.sftp import CMD_EXTENDED, SFTPError, int64

from pipeline.locations.sftp.connect import SftpConnection
from pipeline.locations.sftp.errors import TransferError

# One logger for the whole package, as when it was one module: CLI lines name it.
log = logging.getLogger(__package__)

READ_SIZE = paramiko.SFTPFile.MAX_REQUEST_SIZE  # bytes per read request every server accepts
MAX_READ_SIZE = 256 * 1024  # bytes per read request at most, when the server allows larger ones


def _extended(sftp: paramiko.SFTPClient, name: str, *args: object) -> paramiko.Message:
    """Send one ``SSH_FXP_EXTENDED`` request and return the reply; an error status raises
    OSError.

    The one private paramiko call left: paramiko has a public method for posix-rename only,
    none for the OpenSSH extensions this location relies on. Figures from
    bench/bench_sftp_transfer.py (30 files of 2.9 MB, local sshd, shared 2-core machine,
    3 runs of 3 rounds):

    * ``hardlink@openssh.com`` / ``copy-data``: a re-issue without sending the bytes again,
      3-4 ms and 7-12 ms per file against 32-52 ms to upload it again;
    * ``limits@openssh.com``: the server's largest read (255 KiB on OpenSSH) as the size of
      paramiko's prefetch requests, 60-68 ms per download against 88-127 ms at paramiko's
      32 KiB;
    * ``fsync@openssh.com``: the data is on the server's disk before the rename publishes
      it. Durability, not speed (it costs 0-16 ms per upload); nothing public asks for it.
    """
    _t, msg = sftp._request(CMD_EXTENDED, name, *args)  # noqa: SLF001 - see the docstring
    return msg


def _is_unsupported(exc: BaseException) -> bool:
    """An SFTP status error that is not 'no such file' / 'permission denied'."""
    return (
        isinstance(exc, OSError)
        and not isinstance(exc, (ConnectionError, socket.timeout))
        and (exc.errno is None)
    )


def use_extension(conn: SftpConnection, name: str, request: Callable[[], object]) -> bool:
    """Send ``request`` (of the extension ``name``) unless this connection found the
    server lacks it; False when it does (the caller falls back).

    An SFTP status without errno ("unsupported", or a bare failure) before the first
    success means the server lacks it; after one success it is a real error, raised.
    """
    if conn.extensions.get(name) is False:
        return False
    try:
        request()
    except OSError as exc:
        if conn.extensions.get(name) or not _is_unsupported(exc) or not conn.alive():
            raise
        log.info("%s: server refused %s (%s); not using it", conn.url, name, exc)
        conn.extensions[name] = False
        return False
    conn.extensions[name] = True
    return True


def posix_rename(conn: SftpConnection, sftp: paramiko.SFTPClient, src: str, dst: str) -> bool:
    """Rename ``src`` over ``dst`` atomically; False when the server cannot."""
    return use_extension(conn, "posix-rename@openssh.com", lambda: sftp.posix_rename(src, dst))


def hardlink(conn: SftpConnection, sftp: paramiko.SFTPClient, source: str, target: str) -> bool:
    """Make ``target`` a hard link to ``source``; False when the server cannot."""
    return use_extension(
        conn,
        "hardlink@openssh.com",
        lambda: _extended(sftp, "hardlink@openssh.com", source, target),
    )


def fsync(conn: SftpConnection, sftp: paramiko.SFTPClient, fh: paramiko.SFTPFile) -> None:
    """Have the server write ``fh`` to disk before it is renamed (when it can)."""
    use_extension(
        conn, "fsync@openssh.com", lambda: _extended(sftp, "fsync@openssh.com", fh.handle)
    )


def server_copy(
    conn: SftpConnection,
    sftp: paramiko.SFTPClient,
    source: str,
    tmp: str,
    st: paramiko.SFTPAttributes,
    src: str,
) -> bool:
    """Copy ``source`` to ``tmp`` on the server (``copy-data``); False when it lacks it."""
    if conn.extensions.get("copy-data") is False:
        return False
    with sftp.open(source, "rb") as fin, sftp.open(tmp, "wb") as fout:
        copy = ("copy-data", fin.handle, int64(0), int64(0), fout.handle, int64(0))
        copied = use_extension(conn, "copy-data", lambda: _extended(sftp, *copy))
        if copied:
            fsync(conn, sftp, fout)
    if not copied:
        conn.discard(sftp, tmp)
        return False
    if sftp.stat(tmp).st_size != st.st_size:
        raise TransferError(f"{conn.url}: server copy of {src!r} has the wrong size")
    sftp.utime(tmp, (st.st_atime or st.st_mtime, st.st_mtime))
    return True


def read_size(conn: SftpConnection, sftp: paramiko.SFTPClient) -> int:
    """Bytes per read request on this connection, asked of the server once."""
    if not conn.read_size:
        conn.read_size = _query_read_size(conn, sftp)
    return conn.read_size


def _query_read_size(conn: SftpConnection, sftp: paramiko.SFTPClient) -> int:
    """The server's largest read (``limits@openssh.com``, OpenSSH 8.7+) up to
    :data:`MAX_READ_SIZE`, else :data:`READ_SIZE`."""
    reply: list[paramiko.Message] = []
    try:
        if not use_extension(
            conn,
            "limits@openssh.com",
            lambda: reply.append(_extended(sftp, "limits@openssh.com")),
        ):
            return READ_SIZE
        reply[0].get_int64()  # max packet length
        max_read = reply[0].get_int64()
    except (OSError, SFTPError, paramiko.SSHException):
        if not conn.alive():
            raise
        return READ_SIZE
    return max(READ_SIZE, min(MAX_READ_SIZE, max_read)) if max_read else READ_SIZE
