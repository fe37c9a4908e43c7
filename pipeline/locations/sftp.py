"""A location on an SFTP server (paramiko), with host-key checking, retries and atomic writes.

URL form: ``sftp://user@host:port/path``. The path is the location's root folder:

* ``sftp://u@h/data/drop`` -> the absolute folder ``/data/drop``;
* ``sftp://u@h/~/drop`` -> ``drop`` below the login folder (``sftp://u@h/~`` or
  ``sftp://u@h`` is the login folder itself).

Authentication is by key file and/or a password read from the environment variable
named by :attr:`SftpConfig.password_env` (never from a file or the URL). The server's
host key must be in :attr:`SftpConfig.known_hosts` (``host`` on port 22, ``[host]:port``
otherwise; hashed entries work); an unknown host is refused unless
``allow_unknown_hosts`` is set, and a *changed* key is always refused.

Every operation is retried (tenacity) with exponential backoff and jitter on transient
network errors, reconnecting between attempts, including a connection dropped or reset
during login; a real authentication rejection and host-key failures are never retried.

Only public paramiko calls are used, except ``SFTPClient._request`` for the OpenSSH
extensions paramiko has no method for (see :func:`_extended`).
"""

from __future__ import annotations

import errno
import getpass
import logging
import os
import posixpath
import socket
import stat as stat_mod
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlsplit

import paramiko
import tenacity
from paramiko.sftp import CMD_EXTENDED, SFTPError, int64
from paramiko.ssh_exception import (
    IncompatiblePeer,
    NoValidConnectionsError,
    PartialAuthentication,
)

from pipeline.locations.base import (
    LocationUnavailable,
    RemoteFile,
    UnsafePathError,
    is_temp_name,
    safe_relpath,
    temp_name,
)

if TYPE_CHECKING:
    from pipeline.config import SftpConfig

__all__ = [
    "HostKeyError",
    "LoginDroppedError",
    "SftpAuthError",
    "SftpError",
    "SftpLocation",
    "SftpRetryError",
    "TransferError",
    "is_transient_error",
    "parse_sftp_url",
    "retry_call",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

CHUNK = 1024 * 1024  # bytes per write() call / upload progress report
READ_SIZE = paramiko.SFTPFile.MAX_REQUEST_SIZE  # bytes per read request every server accepts
MAX_READ_SIZE = 256 * 1024  # bytes per read request at most, when the server allows larger ones
MAX_BACKOFF = 30.0  # seconds: the longest wait between two attempts (before jitter)


# --------------------------------------------------------------------------- errors


class SftpError(Exception):
    """Base class of the SFTP location's own errors."""


class HostKeyError(SftpError):
    """The server's host key is unknown (and not allowed) or differs from known_hosts."""


class SftpAuthError(SftpError):
    """No usable credentials, or the server refused them. Never retried."""


class TransferError(SftpError):
    """A transfer ended with the wrong number of bytes. Retried."""


class LoginDroppedError(SftpError):
    """The connection ended (EOF, reset, timeout) while logging in: not a rejection. Retried."""


class SftpRetryError(SftpError):
    """An operation still failed with a transient error after every retry."""


# --------------------------------------------------------------------------- retries

_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH",
        "ENETUNREACH", "ENETDOWN", "ENETRESET", "EHOSTDOWN", "ENOTCONN", "ESHUTDOWN",
    )
    if hasattr(errno, name)
)  # fmt: skip


def is_transient_error(exc: BaseException) -> bool:
    """True for errors worth retrying on a fresh connection (network trouble).

    Authentication and host-key errors, unsafe paths and SFTP status errors such
    as "no such file" or "permission denied" are not transient.
    """
    if isinstance(
        exc,
        (
            HostKeyError, SftpAuthError, UnsafePathError, paramiko.AuthenticationException,
            paramiko.BadHostKeyException, IncompatiblePeer, LocationUnavailable,
        ),
    ):  # fmt: skip
        return False
    if isinstance(
        exc, (TransferError, LoginDroppedError, EOFError, socket.timeout, ConnectionError)
    ):
        return True
    if isinstance(exc, NoValidConnectionsError):  # connection refused on every address
        return True
    if isinstance(exc, socket.gaierror):
        return exc.errno == getattr(socket, "EAI_AGAIN", object())
    if isinstance(exc, paramiko.SSHException):  # banner/kex failures, "connection dropped"
        return True
    if isinstance(exc, OSError):
        return exc.errno in _NETWORK_ERRNOS
    return False


def retry_call(
    fn: Callable[[], T],
    *,
    retries: int,
    backoff: float = 0.5,
    max_backoff: float = MAX_BACKOFF,
    is_transient: Callable[[BaseException], bool] = is_transient_error,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    describe: str = "operation",
) -> T:
    """Call ``fn`` until it succeeds, retrying transient errors at most ``retries`` times.

    The n-th retry (n = 0, 1, ...) waits ``backoff * 2**n`` seconds, capped at
    ``max_backoff``, plus a random jitter of up to ``backoff``. ``on_retry(n, exc, delay)``
    runs before each wait (e.g. to drop a broken connection). A non-transient error is
    raised at once; a transient one left after the last retry is raised as
    :class:`SftpRetryError` (one line, the error as its ``__cause__``).
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = _failure(state)
        delay = state.next_action.sleep if state.next_action else 0.0
        n = state.attempt_number - 1
        log.warning(
            "%s: transient %s: %s; retry %d/%d in %.1f s",
            describe, type(exc).__name__, _one_line(exc), n + 1, retries, delay,
        )  # fmt: skip
        if on_retry is not None:
            on_retry(n, exc, delay)

    def give_up(state: tenacity.RetryCallState) -> T:
        exc = _failure(state)
        raise SftpRetryError(
            f"{describe} failed after {state.attempt_number} attempt(s) in "
            f"{state.seconds_since_start or 0.0:.1f} s: {type(exc).__name__}: {_one_line(exc)}"
        ) from exc

    policy = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_after_attempt(max(0, retries) + 1),
        wait=tenacity.wait_exponential(multiplier=backoff, max=max_backoff)
        + tenacity.wait_random(0, backoff),
        before_sleep=before_sleep,
        retry_error_callback=give_up,
        sleep=sleep,
    )
    return policy(fn)


def _failure(state: tenacity.RetryCallState) -> BaseException:
    exc = state.outcome.exception() if state.outcome is not None else None
    assert exc is not None  # tenacity only retries or gives up on a failed attempt
    return exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# --------------------------------------------------------------------------- URL


def parse_sftp_url(url: str) -> tuple[str, int, str, str]:
    """``(host, port, user, root)`` of an ``sftp://`` URL.

    ``root`` is absolute (``/data``) or relative to the login folder (``""``, ``"drop"``)
    when the URL path is empty or starts with ``/~``.
    """
    parts = urlsplit(url)
    if parts.scheme != "sftp":
        raise ValueError(f"not an sftp:// URL: {url!r}")
    if parts.password:
        raise ValueError(
            "a password in an sftp:// URL is refused; name an environment variable "
            "in sftp.password_env instead"
        )
    if not parts.hostname:
        raise ValueError(f"sftp URL without a host: {url!r}")
    try:
        port = parts.port or 22
    except ValueError as exc:
        raise ValueError(f"bad port in sftp URL {url!r}") from exc
    user = unquote(parts.username) if parts.username else getpass.getuser()
    path = unquote(parts.path)
    if "\x00" in path or "\\" in path:
        raise UnsafePathError(f"refusing unsafe root folder in {url!r}")
    if path in ("", "/~") or path.startswith("/~/"):
        root = path[3:].strip("/")
    else:
        root = posixpath.normpath(path)
        if root.startswith("//"):
            root = "/" + root.lstrip("/")
    return parts.hostname, port, user, root


# --------------------------------------------------------------------------- host keys


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, known_hosts: str) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key):  # noqa: ANN001 - paramiko API
        raise HostKeyError(
            f"host {hostname} is not in {self.known_hosts} (its {key.get_name()} key has "
            f"fingerprint {key.fingerprint}); add it with ssh-keyscan after checking the "
            f"fingerprint, or set sftp.allow_unknown_hosts for development only"
        )


class _AllowUnknown(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client, hostname, key):  # noqa: ANN001 - paramiko API
        log.warning(
            "accepting UNKNOWN host key of %s (%s %s) because allow_unknown_hosts is set",
            hostname, key.get_name(), key.fingerprint,
        )  # fmt: skip


# --------------------------------------------------------------------------- SFTP client


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


def _login_dropped(ssh: paramiko.SSHClient, exc: paramiko.AuthenticationException) -> bool:
    """Whether an authentication error is really the connection ending during login.

    paramiko reports an EOF (or a timeout) while it waits for the server's answer as an
    ``AuthenticationException``; a real rejection comes as the server's answer on a
    connection that is still up. ``BadAuthenticationType`` (the server refuses the method)
    and ``PartialAuthentication`` are rejections.
    """
    if isinstance(exc, (paramiko.BadAuthenticationType, PartialAuthentication)):
        return False
    transport = ssh.get_transport()
    if transport is None or not transport.is_active():
        return True
    return "saw EOF" in str(exc) or "timeout" in str(exc).lower()


def _is_unsupported(exc: BaseException) -> bool:
    """An SFTP status error that is not 'no such file' / 'permission denied'."""
    return (
        isinstance(exc, OSError)
        and not isinstance(exc, (ConnectionError, socket.timeout))
        and (exc.errno is None)
    )


# --------------------------------------------------------------------------- location


class SftpLocation:
    """A folder on an SFTP server, implementing :class:`pipeline.locations.base.Location`.

    Not meant to be shared between threads without care: operations are serialised
    by a lock. ``progress`` (optional) is called as ``progress(path, done, total)``
    during uploads and downloads.
    """

    concurrent_writes = False

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
        self._root_spec = root
        self.root = ""  # absolute root on the server, set at the first connection
        self._real_root = ""  # root with symlinks resolved
        self._ssh: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.RLock()
        self._stale_tmps: set[str] = set()
        # What this connection learnt of the server's extensions (paramiko does not keep the
        # list a server announces): True = one request worked, False = unsupported.
        self._extensions: dict[str, bool] = {}
        self._read_size = 0  # bytes per read request on this connection (0: not asked yet)
        self.connections = 0  # successful connections (1 + reconnects)
        self.retries_used = 0  # retries of any operation, for metadata and tests
        self.unsafe_names: list[str] = []  # remote names refused by the last list_files
        self.skipped: dict[str, str] = {}  # every name the last list_files skipped: reason
        self.progress: Callable[[str, int, int], None] | None = None
        self._pkey = self._load_key(has_password=bool(password or cfg.password_env))
        self._password = password or self._load_password()
        if self._pkey is None and self._password is None:
            raise SftpAuthError(
                f"{self.url}: no credentials: no sftp.key_file and no sftp.password_env"
            )
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

    # ----------------------------------------------------------- credentials

    def _load_key(self, has_password: bool) -> paramiko.PKey | None:
        if not self.cfg.key_file:
            return None
        path = Path(self.cfg.key_file).expanduser()
        if not path.is_file():
            if has_password:
                return None  # password only (the default key_file need not exist)
            raise SftpAuthError(f"{self.url}: key file {path} not found")
        try:
            return paramiko.PKey.from_path(path)
        except paramiko.PasswordRequiredException as exc:
            raise SftpAuthError(
                f"{self.url}: key file {path} is encrypted; use an unencrypted deploy key "
                "readable only by the pipeline's user, or a password"
            ) from exc
        except (paramiko.SSHException, OSError, ValueError) as exc:
            raise SftpAuthError(f"{self.url}: cannot load key file {path}: {exc}") from exc

    def _load_password(self) -> str | None:
        name = self.cfg.password_env
        if not name:
            return None
        value = os.environ.get(name)
        if not value:
            if self._pkey is not None:
                return None
            raise SftpAuthError(
                f"{self.url}: environment variable {name} (sftp.password_env) is not set"
            )
        return value

    # ----------------------------------------------------------- connection

    def _connect(self) -> paramiko.SFTPClient:
        cfg = self.cfg
        ssh = paramiko.SSHClient()
        known = Path(cfg.known_hosts).expanduser() if cfg.known_hosts else None
        if known is not None and known.is_file():
            ssh.get_host_keys().load(str(known))  # read only: never written back
        elif not cfg.allow_unknown_hosts:
            raise HostKeyError(
                f"{self.url}: known_hosts file {known} not found; refusing to connect to an "
                "unverified host (set sftp.known_hosts, or allow_unknown_hosts for development)"
            )
        ssh.set_missing_host_key_policy(
            _AllowUnknown() if cfg.allow_unknown_hosts else _RefuseUnknown(str(known))
        )
        try:
            ssh.connect(
                self.host,
                port=self.port,
                username=self.user,
                pkey=self._pkey,
                password=self._password,
                timeout=cfg.timeout,
                banner_timeout=cfg.timeout,
                auth_timeout=cfg.timeout,
                channel_timeout=cfg.timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException as exc:
            ssh.close()
            raise HostKeyError(
                f"{self.url}: HOST KEY CHANGED: the server offered {exc.key.get_name()} "
                f"{exc.key.fingerprint} but {known} expects {exc.expected_key.fingerprint}; "
                "refusing to connect (possible man-in-the-middle)"
            ) from exc
        except paramiko.AuthenticationException as exc:
            dropped = _login_dropped(ssh, exc)
            ssh.close()
            if dropped:
                raise LoginDroppedError(
                    f"{self.url}: connection lost while logging in as {self.user}: {exc}"
                ) from exc
            raise SftpAuthError(
                f"{self.url}: authentication failed for {self.user}: {exc}"
            ) from exc
        except BaseException:
            ssh.close()
            raise
        try:
            transport = ssh.get_transport()
            assert transport is not None
            if cfg.keepalive:
                transport.set_keepalive(int(cfg.keepalive))
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise paramiko.SSHException("could not open an sftp channel")
            sftp.get_channel().settimeout(cfg.timeout)
            if not self.root:
                spec = self._root_spec
                home = sftp.normalize(".")
                self.root = spec if spec.startswith("/") else posixpath.join(home, spec).rstrip("/")
                self.root = posixpath.normpath(self.root)
        except BaseException:
            ssh.close()
            raise
        self._ssh, self._sftp = ssh, sftp
        self._real_root = ""
        self._extensions = {}
        self._read_size = 0
        self.connections += 1
        log.debug("connected to %s", self.url)
        return sftp

    def _alive(self) -> bool:
        ssh = self._ssh
        transport = ssh.get_transport() if ssh is not None else None
        return transport is not None and transport.is_active()

    def _client(self) -> paramiko.SFTPClient:
        if self._sftp is None or not self._alive():
            self._drop()
            sftp = self._connect()
            self._clean_stale(sftp)
            return sftp
        return self._sftp

    def _drop(self) -> None:
        ssh, self._ssh, self._sftp = self._ssh, None, None
        if ssh is not None:
            try:
                ssh.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("error closing %s", self.url, exc_info=True)

    def _clean_stale(self, sftp: paramiko.SFTPClient) -> None:
        """Remove temp files left by uploads that died with an earlier connection."""
        for tmp in sorted(self._stale_tmps):
            try:
                sftp.remove(tmp)
            except FileNotFoundError:
                pass
            except OSError:
                if not self._alive():
                    return
                continue
            self._stale_tmps.discard(tmp)

    def _transient(self, exc: BaseException) -> bool:
        if is_transient_error(exc):
            return True
        if isinstance(exc, (HostKeyError, SftpAuthError, UnsafePathError)):
            return False
        # "Socket is closed" and similar errno-less errors once the link is gone
        return isinstance(exc, (OSError, EOFError, SFTPError)) and not self._alive()

    def _run(self, what: str, op: Callable[[paramiko.SFTPClient], T], path: str | None = None) -> T:
        def attempt() -> T:
            return op(self._client())

        def on_retry(n: int, exc: BaseException, delay: float) -> None:
            self.retries_used += 1
            self._drop()

        with self._lock:
            try:
                return retry_call(
                    attempt,
                    retries=max(0, int(self.cfg.retries)),
                    backoff=self.backoff,
                    is_transient=self._transient,
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

    # ----------------------------------------------------------- paths

    def _abs(self, path: str) -> str:
        # inside an operation: with connect=False the root is known after the first connection
        return posixpath.join(self.root, safe_relpath(path))

    def _check_inside(self, sftp: paramiko.SFTPClient, abspath: str, path: str) -> None:
        """Refuse a path whose symlinks lead outside the root."""
        try:
            if not self._real_root:
                self._real_root = sftp.normalize(self.root)
            real = sftp.normalize(abspath)
        except FileNotFoundError:
            return  # nothing there: the caller's own call reports it
        base = self._real_root.rstrip("/")
        if real != base and not real.startswith(base + "/"):
            raise UnsafePathError(f"{self.url}: {path!r} leads outside the root (to {real})")

    def _mkdirs(self, sftp: paramiko.SFTPClient, folder: str) -> None:
        """``mkdir -p`` of an absolute folder; below the root, symlinks are refused."""
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
            inside = cur != self.root and cur.startswith(self.root.rstrip("/") + "/")
            if stat_mod.S_ISLNK(attr.st_mode or 0) and inside:
                raise UnsafePathError(f"{self.url}: refusing to write through symlink {cur}")
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

    def _tmp_name(self, target: str) -> str:
        folder, name = posixpath.split(target)
        return posixpath.join(folder, temp_name(name))

    def _rename_over(self, sftp: paramiko.SFTPClient, src: str, dst: str) -> None:
        if self._with_extension(
            "posix-rename@openssh.com", lambda: sftp.posix_rename(src, dst)
        ):  # fmt: skip
            return
        # no atomic replace on this server: the final name is briefly absent, never partial
        try:
            sftp.remove(dst)
        except FileNotFoundError:
            pass
        sftp.rename(src, dst)

    def _with_extension(self, name: str, request: Callable[[], object]) -> bool:
        """Send ``request`` (of the extension ``name``) unless this connection found the
        server lacks it; False when it does (the caller falls back).

        An SFTP status without errno ("unsupported", or a bare failure) before the first
        success means the server lacks it; after one success it is a real error, raised.
        """
        if self._extensions.get(name) is False:
            return False
        try:
            request()
        except OSError as exc:
            if self._extensions.get(name) or not _is_unsupported(exc) or not self._alive():
                raise
            log.info("%s: server refused %s (%s); not using it", self.url, name, exc)
            self._extensions[name] = False
            return False
        self._extensions[name] = True
        return True

    def _discard(self, sftp: paramiko.SFTPClient, tmp: str) -> None:
        try:
            sftp.remove(tmp)
        except FileNotFoundError:
            pass
        except Exception:  # noqa: BLE001 - the connection is probably gone; clean up later
            self._stale_tmps.add(tmp)

    def _fsync(self, sftp: paramiko.SFTPClient, fh: paramiko.SFTPFile) -> None:
        """Have the server write ``fh`` to disk before it is renamed (when it can)."""
        self._with_extension(
            "fsync@openssh.com", lambda: _extended(sftp, "fsync@openssh.com", fh.handle)
        )

    def _download(self, sftp: paramiko.SFTPClient, target: str, size: int, path: str) -> bytes:
        """Read exactly ``size`` bytes with paramiko's prefetch (every read request sent at
        once, the replies bounded by the channel's window).

        An early end of file, or data past ``size``, means the file changed meanwhile and
        raises :class:`TransferError` (retried).
        """
        if not self._read_size:
            self._read_size = self._query_read_size(sftp)
        parts: list[bytes] = []
        done = 0
        with sftp.open(target, "rb") as fh:
            # MAX_REQUEST_SIZE is paramiko's (public) size of each prefetch request
            fh.MAX_REQUEST_SIZE = self._read_size
            fh.prefetch(size)
            while done < size:
                chunk = fh.read(min(self._read_size, size - done))
                if not chunk:
                    raise TransferError(
                        f"{self.url}: {path!r} ended at byte {done}, expected {size} "
                        "(changed while reading?)"
                    )
                parts.append(chunk)
                done += len(chunk)
                if self.progress is not None:
                    self.progress(path, done, size)
            if fh.read(1):
                raise TransferError(
                    f"{self.url}: {path!r} is longer than the {size} bytes reported "
                    "(changed while reading?)"
                )
        return b"".join(parts)

    def _query_read_size(self, sftp: paramiko.SFTPClient) -> int:
        """The server's largest read (``limits@openssh.com``, OpenSSH 8.7+) up to
        :data:`MAX_READ_SIZE`, else :data:`READ_SIZE`."""
        reply: list[paramiko.Message] = []
        try:
            if not self._with_extension(
                "limits@openssh.com", lambda: reply.append(_extended(sftp, "limits@openssh.com"))
            ):
                return READ_SIZE
            reply[0].get_int64()  # max packet length
            max_read = reply[0].get_int64()
        except (OSError, SFTPError, paramiko.SSHException):
            if not self._alive():
                raise
            return READ_SIZE
        return max(READ_SIZE, min(MAX_READ_SIZE, max_read)) if max_read else READ_SIZE

    def _upload(self, sftp: paramiko.SFTPClient, tmp: str, data: bytes, path: str) -> None:
        view = memoryview(data)
        total = len(data)
        with sftp.open(tmp, "wb") as fh:
            # Pipelined writes, except the last byte: paramiko drops the replies to pipelined
            # writes still pending at close, but an unpipelined write first waits for every
            # pending reply and raises the first error (a full disk, a quota).
            fh.set_pipelined(True)
            for start in range(0, total, CHUNK):
                end = min(total, start + CHUNK)
                if end == total:
                    fh.write(view[start : end - 1])
                    fh.set_pipelined(False)
                    fh.write(view[end - 1 : end])
                else:
                    fh.write(view[start:end])
                if self.progress is not None:
                    self.progress(path, end, total)
            self._fsync(sftp, fh)
        size = sftp.stat(tmp).st_size
        if size != total:
            raise TransferError(f"{self.url}: upload of {path!r} wrote {size} of {total} bytes")
        try:
            sftp.chmod(tmp, 0o644)
        except OSError:
            if not self._alive():
                raise

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
            out: list[RemoteFile] = []
            self.unsafe_names, self.skipped = [], {}
            try:
                top = sftp.stat(self.root)
            except FileNotFoundError:
                raise LocationUnavailable(
                    f"{self.url}: cannot list the location: no such folder"
                ) from None
            if not stat_mod.S_ISDIR(top.st_mode or 0):
                raise LocationUnavailable(f"{self.url}: cannot list the location: not a folder")
            todo = [""]
            while todo:
                rel_dir = todo.pop()
                folder = posixpath.join(self.root, rel_dir) if rel_dir else self.root
                try:
                    entries = sftp.listdir_attr(folder)
                except PermissionError:
                    if not rel_dir:
                        raise LocationUnavailable(
                            f"{self.url}: cannot list the location: permission denied"
                        ) from None
                    self._skip(rel_dir, "folder cannot be listed (permission denied)")
                    continue
                for attr in entries:
                    name = attr.filename
                    if name.startswith("."):
                        continue
                    rel = f"{rel_dir}/{name}" if rel_dir else name
                    try:
                        if safe_relpath(rel) != rel or "/" in name:
                            raise UnsafePathError(rel)
                    except UnsafePathError:
                        self.unsafe_names.append(rel)
                        self._skip(rel, "unsafe name")
                        continue
                    mode = attr.st_mode or 0
                    if stat_mod.S_ISLNK(mode):
                        attr = self._follow(sftp, posixpath.join(folder, name), rel)
                        if attr is None:
                            continue
                        mode = attr.st_mode or 0
                    if stat_mod.S_ISDIR(mode):
                        todo.append(rel)
                    elif stat_mod.S_ISREG(mode):
                        out.append(
                            RemoteFile(rel, int(attr.st_size or 0), float(attr.st_mtime or 0))
                        )
                    else:
                        self._skip(rel, "not a regular file (FIFO, socket or device)")
            return sorted(out, key=lambda f: f.path)

        return self._run("list_files", op)

    def _skip(self, rel: str, reason: str) -> None:
        self.skipped[rel] = reason
        log.warning("%s: skipping %r: %s", self.url, rel, reason)

    def _follow(
        self, sftp: paramiko.SFTPClient, abspath: str, rel: str
    ) -> paramiko.SFTPAttributes | None:
        """The target's attributes of a listed symlink to a regular file inside the root,
        or None (skipped with a warning)."""
        try:
            if not self._real_root:
                self._real_root = sftp.normalize(self.root)
            real = sftp.normalize(abspath)
        except FileNotFoundError:
            self._skip(rel, "dangling symlink")
            return None
        base = self._real_root.rstrip("/")
        if real != base and not real.startswith(base + "/"):
            self._skip(rel, "symlink leads outside the location")
            return None
        try:
            attr = sftp.stat(abspath)
        except FileNotFoundError:
            self._skip(rel, "dangling symlink")
            return None
        if stat_mod.S_ISDIR(attr.st_mode or 0):
            self._skip(rel, "symlinked folder (not followed)")
            return None
        return attr

    def read_bytes(self, path: str) -> bytes:
        """Download one file; the byte count must equal the size the server reports."""
        safe_relpath(path)

        def op(sftp: paramiko.SFTPClient) -> bytes:
            target = self._abs(path)
            self._check_inside(sftp, target, path)
            try:
                st = sftp.stat(target)
                if not stat_mod.S_ISREG(st.st_mode or 0):
                    raise IsADirectoryError(
                        errno.EISDIR, "not a regular file", f"{self.url}/{path}"
                    )
                data = self._download(sftp, target, int(st.st_size or 0), path)
            except FileNotFoundError as exc:
                raise FileNotFoundError(
                    errno.ENOENT, "no such remote file", f"{self.url}/{path}"
                ) from exc
            except PermissionError as exc:
                raise PermissionError(
                    errno.EACCES, "permission denied reading remote file", f"{self.url}/{path}"
                ) from exc
            return data

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

    def write_atomic(self, path: str, data: bytes) -> None:
        """Upload to ``.name.<random>.tmp`` in the same folder, then rename over ``path``."""
        safe_relpath(path)
        data = bytes(data)

        def op(sftp: paramiko.SFTPClient) -> None:
            target = self._abs(path)
            self._mkdirs(sftp, posixpath.dirname(target))
            tmp = self._tmp_name(target)
            try:
                self._upload(sftp, tmp, data, path)
                self._rename_over(sftp, tmp, target)
            except BaseException:
                self._discard(sftp, tmp)
                raise

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
            self._check_inside(sftp, source, src)
            try:
                st = sftp.stat(source)
            except FileNotFoundError:
                if data is None:
                    raise FileNotFoundError(
                        errno.ENOENT, "no such remote file", f"{self.url}/{src}"
                    ) from None
                st = None
            self._mkdirs(sftp, posixpath.dirname(target))
            tmp = self._tmp_name(target)
            try:
                how = self._link_or_copy_to(sftp, source, tmp, st, src, data)
                self._rename_over(sftp, tmp, target)
            except BaseException:
                self._discard(sftp, tmp)
                raise
            # When dst already was src's inode (a re-run after a crash), the rename did
            # nothing and both names remain: drop the temp name.
            try:
                sftp.remove(tmp)
            except FileNotFoundError:
                pass
            return how

        return self._run(f"link_or_copy({src!r}, {dst!r})", op, dst)

    def _link_or_copy_to(
        self,
        sftp: paramiko.SFTPClient,
        source: str,
        tmp: str,
        st: paramiko.SFTPAttributes | None,
        src: str,
        data: bytes | None,
    ) -> str:
        if st is not None:
            try:
                if self._with_extension(
                    "hardlink@openssh.com",
                    lambda: _extended(sftp, "hardlink@openssh.com", source, tmp),
                ):
                    return "hardlink"
            except OSError as exc:
                if not self._alive() or isinstance(exc, (ConnectionError, socket.timeout)):
                    raise
                log.info("%s: hardlink refused (%s); copying instead", self.url, exc)
            try:
                if self._server_copy(sftp, source, tmp, st, src):
                    return "copy"
            except OSError as exc:
                if not self._alive() or isinstance(exc, (ConnectionError, socket.timeout)):
                    raise
                log.info("%s: server copy refused (%s); uploading instead", self.url, exc)
                self._discard(sftp, tmp)
        payload = data
        if payload is None:
            payload = self._read_with(sftp, source, src)
        self._upload(sftp, tmp, payload, src)
        if st is not None:
            sftp.utime(tmp, (st.st_atime or st.st_mtime, st.st_mtime))
        return "upload"

    def _server_copy(
        self,
        sftp: paramiko.SFTPClient,
        source: str,
        tmp: str,
        st: paramiko.SFTPAttributes,
        src: str,
    ) -> bool:
        """Copy ``source`` to ``tmp`` on the server (``copy-data``); False when it lacks it."""
        if self._extensions.get("copy-data") is False:
            return False
        with sftp.open(source, "rb") as fin, sftp.open(tmp, "wb") as fout:
            copy = ("copy-data", fin.handle, int64(0), int64(0), fout.handle, int64(0))
            copied = self._with_extension("copy-data", lambda: _extended(sftp, *copy))
            if copied:
                self._fsync(sftp, fout)
        if not copied:
            self._discard(sftp, tmp)
            return False
        if sftp.stat(tmp).st_size != st.st_size:
            raise TransferError(f"{self.url}: server copy of {src!r} has the wrong size")
        sftp.utime(tmp, (st.st_atime or st.st_mtime, st.st_mtime))
        return True

    def _read_with(self, sftp: paramiko.SFTPClient, source: str, src: str) -> bytes:
        return self._download(sftp, source, int(sftp.stat(source).st_size or 0), src)

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

        def op(sftp: paramiko.SFTPClient) -> list[str]:
            removed: list[str] = []
            try:
                sftp.stat(self.root)
            except FileNotFoundError:
                return removed
            todo = [""]
            while todo:
                rel_dir = todo.pop()
                folder = posixpath.join(self.root, rel_dir) if rel_dir else self.root
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

        return self._run("remove_temp_files", op)

    def close(self) -> None:
        """Close the connection (the next operation would reconnect)."""
        with self._lock:
            self._drop()

    def __enter__(self) -> SftpLocation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SftpLocation({self.url!r})"
