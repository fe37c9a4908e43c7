"""A real OpenSSH ``sshd`` on 127.0.0.1 for tests and benchmarks (no pytest here).

``SshServer`` generates its own host key and an ed25519 user key for the current
user, writes a ``known_hosts`` file, and runs ``sshd -D -e -f <config>`` with the
``internal-sftp`` subsystem on a free port. ``stop()`` kills the listening daemon
*and* its per-connection children (each connection is a separate, setsid'd process
tree, so a process-group kill is not enough); ``start()`` brings it back on the
same port.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SSHD = os.environ.get("PIPELINE_TEST_SSHD", "/usr/sbin/sshd")
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
PASSWORD_USER_PREFIX = "psftp"


class SshdUnavailable(RuntimeError):
    """sshd or ssh-keygen is not installed (the caller decides: skip or fail)."""


def sshd_available() -> str | None:
    """None when sshd can run here, else the reason it cannot."""
    if not (os.path.isfile(SSHD) and os.access(SSHD, os.X_OK)):
        return f"OpenSSH server not installed ({SSHD} missing)"
    if not os.path.isfile(SSH_KEYGEN):
        return "ssh-keygen not installed"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def keygen(path: Path, comment: str = "pipeline-test") -> Path:
    """A new unencrypted ed25519 key pair at ``path`` / ``path.pub``."""
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return path


def openssh_version() -> tuple[int, int]:
    out = subprocess.run([SSHD, "-V"], capture_output=True, text=True).stderr
    m = re.search(r"OpenSSH_(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...)."""
    kids = _children_map()
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


class SshServer:
    """One sshd process (restartable) serving SFTP from the local file system."""

    host = "127.0.0.1"

    def __init__(self, workdir: str | os.PathLike[str] | None = None) -> None:
        reason = sshd_available()
        if reason:
            raise SshdUnavailable(reason)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pipeline-sshd-")).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)  # other test users must reach their roots
        self.user = getpass.getuser()
        self.is_root = os.geteuid() == 0
        self.port = free_port(self.host)
        self.host_key = keygen(self.workdir / "ssh_host_ed25519_key", "test-host")
        self.key_file = keygen(self.workdir / "id_ed25519", f"{self.user}@pipeline-test")
        self.known_hosts = self.workdir / "known_hosts"
        self.known_hosts.write_text(self.known_hosts_line())
        self.root = self.workdir / "root"
        self.root.mkdir(exist_ok=True)
        self.log_file = self.workdir / "sshd.log"
        self.config_file = self.workdir / "sshd_config"
        self._authorize(self.user, self.key_file.with_suffix(".pub").read_text())
        self._users: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_fh = None

    # ------------------------------------------------------------------ keys

    def host_public_key(self) -> str:
        """``"ssh-ed25519 AAAA..."`` of the server."""
        return " ".join(self.host_key.with_suffix(".pub").read_text().split()[:2])

    def known_hosts_line(self, public_key: str | None = None) -> str:
        """A known_hosts line for this server (``[127.0.0.1]:port``), optionally another key."""
        key = public_key or self.host_public_key()
        key = " ".join(key.split()[:2])
        return f"[{self.host}]:{self.port} {key}\n"

    def _authorize(self, user: str, pubkey: str) -> None:
        path = self.workdir / f"authorized_keys.{user}"
        with path.open("a") as fh:
            fh.write(pubkey.strip() + "\n")
        os.chmod(path, 0o644)

    # ------------------------------------------------------------------ config

    def _write_config(self) -> None:
        lines = [
            f"ListenAddress {self.host}:{self.port}",
            f"HostKey {self.host_key}",
            "PidFile none",
            f"AuthorizedKeysFile {self.workdir}/authorized_keys.%u",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication yes",
            "PermitEmptyPasswords no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "UseDNS no",
            "PermitRootLogin prohibit-password",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
            "MaxStartups 200:30:400",
            "MaxSessions 50",
            "MaxAuthTries 6",
            "LoginGraceTime 30",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "PrintMotd no",
        ]
        if openssh_version() >= (9, 8):
            lines.append("PerSourcePenalties no")  # tests fail logins on purpose
        self.config_file.write_text("\n".join(lines) + "\n")

    # ------------------------------------------------------------------ process

    def start(self, timeout: float = 15.0) -> SshServer:
        """Start sshd (again, on the same port) and wait until it sends its banner."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        self._write_config()
        if self.is_root:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        self._log_fh = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as s:
                    s.settimeout(2)
                    if s.recv(64).startswith(b"SSH-"):
                        return self
            except OSError as exc:
                last = exc
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not come up on port {self.port}: {last}\n{self.log_tail()}")

    def stop(self) -> None:
        """Kill the daemon and every connection it serves (like a crash or a reboot)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGSTOP)  # no new connections while we collect
            victims = descendants(proc.pid)
            for pid in [*victims, proc.pid]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait(timeout=10)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not all(_gone(p) for p in victims):
                time.sleep(0.02)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def restart(self, downtime: float = 0.0) -> None:
        self.stop()
        if downtime:
            time.sleep(downtime)
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Stop sshd, remove test users and (if we made it) the work folder."""
        self.stop()
        for user in self._users:
            subprocess.run(["userdel", user], capture_output=True)
        self._users.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ helpers

    def url(self, subpath: str | os.PathLike[str] = "", user: str | None = None) -> str:
        """``sftp://user@127.0.0.1:port/<abs path>``; ``subpath`` is below :attr:`root`
        unless absolute."""
        p = Path(subpath)
        target = p if p.is_absolute() else (self.root / p if str(subpath) else self.root)
        return f"sftp://{user or self.user}@{self.host}:{self.port}{target.as_posix()}"

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def connection_count(self) -> int:
        """Connections sshd accepted so far (from its VERBOSE log)."""
        return len(re.findall(r"^Connection from ", self.log_text(), re.M))

    def add_password_user(self) -> tuple[str, str]:
        """A fresh local account with a random password (root only); removed by close()."""
        if not self.is_root:
            raise PermissionError("creating a test user needs root")
        _remove_stale_users()
        name = f"{PASSWORD_USER_PREFIX}-{os.getpid()}-{len(self._users)}"
        home = self.workdir / f"home-{name}"
        home.mkdir(exist_ok=True)
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "-M", "-d", str(home), "-s", "/usr/sbin/nologin", name],
                check=True,
                capture_output=True,
            )
        self._users.append(name)
        password = secrets.token_urlsafe(16)
        subprocess.run(
            ["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True
        )
        info = pwd.getpwnam(name)
        os.chown(home, info.pw_uid, info.pw_gid)
        return name, password


def _remove_stale_users() -> None:
    """Delete test accounts left by killed sessions (their creating process is gone)."""
    for entry in pwd.getpwall():
        m = re.fullmatch(rf"{PASSWORD_USER_PREFIX}-(\d+)-\d+", entry.pw_name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            subprocess.run(["userdel", entry.pw_name], capture_output=True)
