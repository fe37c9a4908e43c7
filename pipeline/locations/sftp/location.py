"""The SFTP location: each operation runs on the connection, retried on transient errors."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import paramiko

from pipeline.locations.base import Payload, RemoteFile, safe_relpath
from pipeline.locations.sftp import transfer, walk
from pipeline.locations.sftp.connect import SftpConnection, load_credentials, parse_sftp_url
from pipeline.locations.sftp.errors import retry_call
from pipeline.locations.sftp.transfer import Progress

if TYPE_CHECKING:
    from pipeline.config import SftpConfig

T = TypeVar("T")


class SftpLocation:
    """A folder on an SFTP server, implementing :class:`pipeline.locations.base.Location`.

    One connection, not safe to share between threads. ``progress`` (optional) is called
    as ``progress(path, done, total)`` during uploads and downloads.
    """

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        root: str,
        cfg: SftpConfig,
        *,
        url: str | None = None,
        password: str | None = None,
        backoff: float = 0.5,
        connect: bool = True,
    ) -> None:
        """Prefer :meth:`from_url`. ``password`` (e.g. from a Dagster ``EnvVar``) is used
        instead of the ``cfg.password_env`` variable when given; ``backoff`` is the first
        retry delay in seconds; ``connect=False`` defers connecting to the first call."""
        self.host, self.port, self.user = host, port, user
        self.cfg = cfg
        self.backoff = backoff
        self.url = url or f"sftp://{user}@{host}:{port}/{root.lstrip('/')}"
        self.retries_used = 0  # retries of any operation, for metadata and tests
        self.unsafe_names: list[str] = []  # remote names refused by the last list_files
        self.skipped: dict[str, str] = {}  # every name the last list_files skipped: reason
        self.progress: Progress | None = None
        pkey, password = load_credentials(cfg, self.url, password)
        self.connection = SftpConnection(host, port, user, root, self.url, pkey, password)
        if connect:
            self._run("connect", lambda sftp: None)

    @classmethod
    def from_url(
        cls,
        url: str,
        cfg: SftpConfig,
        *,
        password: str | None = None,
        backoff: float = 0.5,
        connect: bool = True,
    ) -> SftpLocation:
        """Open ``sftp://user@host:port/path`` (connects at once, with retries)."""
        host, port, user, root = parse_sftp_url(url)
        shown_host = f"[{host}]" if ":" in host else host
        shown = f"sftp://{user}@{shown_host}:{port}" + (
            root if root.startswith("/") else f"/~/{root}".rstrip("/")
        )
        return cls(
            host, port, user, root, cfg, url=shown, password=password, backoff=backoff,
            connect=connect,
        )  # fmt: skip

    @property
    def root(self) -> str:
        """The absolute root on the server (known once connected)."""
        return self.connection.root

    @property
    def connections(self) -> int:
        """Successful connections (1 + reconnects)."""
        return self.connection.connections

    # bench/bench_sftp_transfer.py switches extensions off and sets the read size here
    @property
    def _extensions(self) -> dict[str, bool]:
        return self.connection.extensions

    @property
    def _read_size(self) -> int:
        return self.connection.read_size

    @_read_size.setter
    def _read_size(self, size: int) -> None:
        self.connection.read_size = size

    def _run(self, what: str, op: Callable[[paramiko.SFTPClient], T], path: str | None = None) -> T:
        conn = self.connection

        def attempt() -> T:
            return op(conn.client(self.cfg))

        def on_retry(n: int, exc: BaseException, delay: float) -> None:
            self.retries_used += 1
            conn.drop()

        try:
            return retry_call(
                attempt,
                retries=max(0, int(self.cfg.retries)),
                backoff=self.backoff,
                is_transient=conn.transient,
                on_retry=on_retry,
                describe=f"{self.url}: {what}",
            )
        except OSError as exc:
            if path is None or exc.filename is not None or exc.errno is None:
                raise
            # paramiko's status errors name no file: say which one, keep the type
            raise type(exc)(
                exc.errno, f"{exc.strerror or exc} ({what})", f"{self.url}/{path}"
            ) from exc

    def _abs(self, path: str) -> str:
        # inside an operation: with connect=False the root is known after the first connection
        return posixpath.join(self.root, safe_relpath(path))

    # ----------------------------------------------------------- Location API

    def list_files(self) -> list[RemoteFile]:
        """All regular files below the root, recursively, sorted by path.

        Names starting with ``.`` (temp files of in-progress writes) are skipped. Symlinks
        are followed only to regular files inside the root; links leading outside or
        nowhere, symlinked folders, special files and names that :func:`safe_relpath`
        refuses (backslash, NUL; also kept in :attr:`unsafe_names`) are skipped with a
        warning and never read (:attr:`skipped` says why). A root that does not exist or
        is not a folder raises :class:`LocationUnavailable`.
        """

        def op(sftp: paramiko.SFTPClient) -> list[RemoteFile]:
            self.unsafe_names, self.skipped = [], {}
            return walk.list_files(self.connection, sftp, self.unsafe_names, self.skipped)

        return self._run("list_files", op)

    def read_bytes(self, path: str) -> bytes:
        """Download one file; the byte count must equal the size the server reports."""
        safe_relpath(path)

        def op(sftp: paramiko.SFTPClient) -> bytes:
            target = self._abs(path)
            walk.check_inside(self.connection, sftp, target, path)
            return transfer.read_file(self.connection, sftp, target, path, self.progress)

        return self._run(f"read_bytes({path!r})", op, path)

    def stat(self, path: str) -> RemoteFile | None:
        """Size and mtime of one file (following symlinks), or None when it does not exist."""
        rel = safe_relpath(path)

        def op(sftp: paramiko.SFTPClient) -> RemoteFile | None:
            try:
                st = sftp.stat(self._abs(path))
            except FileNotFoundError:
                return None
            return RemoteFile(rel, int(st.st_size or 0), float(st.st_mtime or 0))

        return self._run(f"stat({path!r})", op, path)

    def write_atomic(self, path: str, data: Payload) -> None:
        """Upload to ``.name.<random>.tmp`` in the same folder, then rename over ``path``."""
        safe_relpath(path)
        data = data if isinstance(data, Path) else bytes(data)

        def op(sftp: paramiko.SFTPClient) -> None:
            target = self._abs(path)
            transfer.write_atomic(self.connection, sftp, target, data, path, self.progress)

        self._run(f"write_atomic({path!r})", op, path)

    def link_or_copy(self, src: str, dst: str, data: bytes | None = None) -> str:
        """Make ``dst`` hold ``src``'s bytes: server hardlink, else server copy, else upload.

        ``hardlink@openssh.com`` (same inode, so the mtime is the source's) is tried
        first, then the ``copy-data`` extension, then sending ``data`` (or ``src``'s
        bytes, downloaded) again. Copies get the source's mtime. Every way goes through
        a temp name and a rename, so ``dst`` appears atomically.
        """
        safe_relpath(src)
        safe_relpath(dst)

        def op(sftp: paramiko.SFTPClient) -> str:
            source, target = self._abs(src), self._abs(dst)
            walk.check_inside(self.connection, sftp, source, src)
            return transfer.link_or_copy(
                self.connection, sftp, source, target, src, data, self.progress
            )

        return self._run(f"link_or_copy({src!r}, {dst!r})", op, dst)

    def remove(self, path: str) -> None:
        """Delete one file; a missing file is not an error."""
        safe_relpath(path)

        def op(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.remove(self._abs(path))
            except FileNotFoundError:
                pass

        self._run(f"remove({path!r})", op, path)

    def remove_temp_files(self) -> list[str]:
        """Remove temp names (``.{name}.{hex}.tmp``) that killed uploads left below the root
        (symlinks are not followed); a missing root has none."""
        return self._run("remove_temp_files", lambda sftp: walk.remove_temp_files(sftp, self.root))

    def close(self) -> None:
        """Close the connection (the next operation would reconnect)."""
        self.connection.drop()

    def __enter__(self) -> SftpLocation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SftpLocation({self.url!r})"
