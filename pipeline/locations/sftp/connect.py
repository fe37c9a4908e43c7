"""Connecting to the server: the URL, credentials, host-key checks, and one location's
connection, opened on demand and again after a failure."""

from __future__ import annotations

import getpass
import logging
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import paramiko
from paramiko.sftp import SFTPError
from paramiko.ssh_exception import PartialAuthentication

from pipeline.locations.base import UnsafePathError
from pipeline.locations.sftp.errors import (
    HostKeyError,
    LoginDroppedError,
    SftpAuthError,
    is_transient_error,
)

if TYPE_CHECKING:
    from pipeline.config import SftpConfig

# One logger for the whole package, as when it was one module: CLI lines name it.
log = logging.getLogger(__package__)


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


# --------------------------------------------------------------------------- credentials


def load_credentials(
    cfg: SftpConfig, url: str, password: str | None = None
) -> tuple[paramiko.PKey | None, str | None]:
    """``(key, password)`` to log in with; ``password`` (when given) is used instead of the
    ``cfg.password_env`` variable. Raises :class:`SftpAuthError` when there is neither."""
    pkey = _load_key(cfg, url, has_password=bool(password or cfg.password_env))
    password = password or _load_password(cfg, url, has_key=pkey is not None)
    if pkey is None and password is None:
        raise SftpAuthError(f"{url}: no credentials: no sftp.key_file and no sftp.password_env")
    return pkey, password


def _load_key(cfg: SftpConfig, url: str, has_password: bool) -> paramiko.PKey | None:
    if not cfg.key_file:
        return None
    path = Path(cfg.key_file).expanduser()
    if not path.is_file():
        if has_password:
            return None  # password only (the default key_file need not exist)
        raise SftpAuthError(f"{url}: key file {path} not found")
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException as exc:
        raise SftpAuthError(
            f"{url}: key file {path} is encrypted; use an unencrypted deploy key "
            "readable only by the pipeline's user, or a password"
        ) from exc
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise SftpAuthError(f"{url}: cannot load key file {path}: {exc}") from exc


def _load_password(cfg: SftpConfig, url: str, has_key: bool) -> str | None:
    name = cfg.password_env
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        if has_key:
            return None
        raise SftpAuthError(f"{url}: environment variable {name} (sftp.password_env) is not set")
    return value


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


# --------------------------------------------------------------------------- connection


class SftpConnection:
    """One location's SSH connection and SFTP session, (re)opened by :meth:`client`.

    What it learns of the server (the root with symlinks resolved, its extensions, its
    read size) is forgotten with each new connection; the root itself is resolved once.
    """

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        root: str,
        url: str,
        pkey: paramiko.PKey | None,
        password: str | None,
    ) -> None:
        """``root`` as :func:`parse_sftp_url` gives it; ``url`` names the location in
        messages."""
        self.host, self.port, self.user = host, port, user
        self.url = url
        self.root_spec = root
        self.root = ""  # absolute root on the server, set at the first connection
        self._pkey, self._password = pkey, password
        self.ssh: paramiko.SSHClient | None = None
        self.sftp: paramiko.SFTPClient | None = None
        self._real_root = ""  # root with symlinks resolved
        # What this connection learnt of the server's extensions (paramiko does not keep the
        # list a server announces): True = one request worked, False = unsupported.
        self.extensions: dict[str, bool] = {}
        self.read_size = 0  # bytes per read request on this connection (0: not asked yet)
        self.stale_tmps: set[str] = set()  # temp files to remove once connected again
        self.connections = 0  # successful connections (1 + reconnects)

    def connect(self, cfg: SftpConfig) -> paramiko.SFTPClient:
        """Open a new connection (host key checked, logged in) and its SFTP session."""
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
                spec = self.root_spec
                home = sftp.normalize(".")
                self.root = spec if spec.startswith("/") else posixpath.join(home, spec).rstrip("/")
                self.root = posixpath.normpath(self.root)
        except BaseException:
            ssh.close()
            raise
        self.ssh, self.sftp = ssh, sftp
        self._real_root = ""
        self.extensions = {}
        self.read_size = 0
        self.connections += 1
        log.debug("connected to %s", self.url)
        return sftp

    def alive(self) -> bool:
        """Whether the connection is up."""
        ssh = self.ssh
        transport = ssh.get_transport() if ssh is not None else None
        return transport is not None and transport.is_active()

    def client(self, cfg: SftpConfig) -> paramiko.SFTPClient:
        """The SFTP session, connecting first when there is none or it is down."""
        if self.sftp is None or not self.alive():
            self.drop()
            sftp = self.connect(cfg)
            self._clean_stale(sftp)
            return sftp
        return self.sftp

    def drop(self) -> None:
        """Close the connection (a broken one quietly)."""
        ssh, self.ssh, self.sftp = self.ssh, None, None
        if ssh is not None:
            try:
                ssh.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("error closing %s", self.url, exc_info=True)

    def transient(self, exc: BaseException) -> bool:
        """:func:`is_transient_error`, and errno-less errors once the link is gone."""
        if is_transient_error(exc):
            return True
        if isinstance(exc, (HostKeyError, SftpAuthError, UnsafePathError)):
            return False
        # "Socket is closed" and similar errno-less errors once the link is gone
        return isinstance(exc, (OSError, EOFError, SFTPError)) and not self.alive()

    def real_root(self, sftp: paramiko.SFTPClient) -> str:
        """The root with symlinks resolved (asked of the server once per connection)."""
        if not self._real_root:
            self._real_root = sftp.normalize(self.root)
        return self._real_root

    def discard(self, sftp: paramiko.SFTPClient, tmp: str) -> None:
        """Remove a temp file, or remember it for the next connection when this one fails."""
        try:
            sftp.remove(tmp)
        except FileNotFoundError:
            pass
        except Exception:  # noqa: BLE001 - the connection is probably gone; clean up later
            self.stale_tmps.add(tmp)

    def _clean_stale(self, sftp: paramiko.SFTPClient) -> None:
        """Remove temp files left by uploads that died with an earlier connection."""
        for tmp in sorted(self.stale_tmps):
            try:
                sftp.remove(tmp)
            except FileNotFoundError:
                pass
            except OSError:
                if not self.alive():
                    return
                continue
            self.stale_tmps.discard(tmp)
