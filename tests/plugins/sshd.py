"""Real OpenSSH sshd fixtures for SFTP tests.

* ``sshd_server`` (session): one :class:`~tests.plugins.sshd_server.SshServer`
  (own host key, ed25519 user key for the current user, internal-sftp) on a free port.
* ``sshd`` (function): a :class:`SshdHandle` on that server with a fresh, empty root
  folder; if a test stopped the daemon, it is running again before the next test.
* ``sshd_password_user`` (session): ``(name, password)`` of a local account created
  for password logins (needs root; skipped otherwise).

Without sshd, :func:`tests.plugins.services.missing_service` skips (or fails in CI).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.services import missing_service
from tests.plugins.sshd_server import SshServer, sshd_available


class SshdHandle:
    """What a test needs from the server, with its own ``root`` folder."""

    def __init__(self, server: SshServer, root: Path) -> None:
        self.server = server
        self.root = root

    host = property(lambda self: self.server.host)
    port = property(lambda self: self.server.port)
    user = property(lambda self: self.server.user)
    key_file = property(lambda self: str(self.server.key_file))
    known_hosts = property(lambda self: str(self.server.known_hosts))

    def url(self, subpath: str = "", user: str | None = None) -> str:
        """``sftp://user@127.0.0.1:port/<abs path>`` of ``root/subpath``."""
        target = self.root / subpath if subpath else self.root
        return self.server.url(target, user=user)

    def sftp_config(self, **overrides: object):
        """An :class:`~pipeline.config.SftpConfig` for this server (key login, short timeouts)."""
        from pipeline.config import SftpConfig

        values: dict[str, object] = {
            "known_hosts": self.known_hosts, "key_file": self.key_file, "timeout": 10.0,
            "keepalive": 5, "retries": 4,
        }  # fmt: skip
        values.update(overrides)
        return SftpConfig(**values)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Kill the daemon and all its connections."""
        self.server.stop()

    def start(self) -> None:
        """Start the daemon again on the same port."""
        self.server.start()

    def connection_count(self) -> int:
        return self.server.connection_count()


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshServer]:
    """One real sshd for the whole session."""
    reason = sshd_available()
    if reason:
        missing_service(reason)
    server = SshServer()
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - cannot run here: skip (or fail in CI)
        server.close()
        missing_service(f"sshd could not start: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def sshd(sshd_server: SshServer) -> Iterator[SshdHandle]:
    """The session's sshd, running, with a fresh empty root folder for this test."""
    if not sshd_server.running:
        sshd_server.start()
    parent = sshd_server.workdir / "roots"
    parent.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="t-", dir=parent))
    os.chmod(root, 0o755)
    try:
        yield SshdHandle(sshd_server, root)
    finally:
        if not sshd_server.running:
            sshd_server.start()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd_password_user(sshd_server: SshServer) -> tuple[str, str]:
    """``(name, password)`` of a local account that can log in with a password."""
    if not sshd_server.is_root:
        # CI and the development machines run as root, so this only skips on a workstation
        # without root; key logins (the default) are tested everywhere.
        missing_service("password logins need a test account, and creating one needs root")
    return sshd_server.add_password_user()
