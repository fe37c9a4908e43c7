"""The SFTP resource: how to authenticate to and verify SFTP servers (SPEC §5)."""

from __future__ import annotations

from dagster import ConfigurableResource

from pipeline.config import SftpConfig
from pipeline.locations import Location, is_sftp_url, open_location


class SftpResource(ConfigurableResource):
    """SFTP settings; :meth:`open` turns a location URL (SFTP or local) into a Location.

    The password is never stored in a file: either name an environment variable in
    ``password_env`` or pass ``password=EnvVar("NAME")`` (Dagster resolves it at run time
    and does not show it in the UI).
    """

    known_hosts: str = "~/.ssh/known_hosts"
    key_file: str | None = "~/.ssh/id_ed25519"
    password_env: str | None = None
    password: str | None = None
    allow_unknown_hosts: bool = False
    timeout: float = 30.0
    keepalive: int = 15
    retries: int = 4

    @classmethod
    def from_config(cls, cfg: SftpConfig) -> SftpResource:
        """The resource for the ``sftp:`` block of a pipeline configuration file."""
        return cls(
            known_hosts=cfg.known_hosts, key_file=cfg.key_file, password_env=cfg.password_env,
            allow_unknown_hosts=cfg.allow_unknown_hosts, timeout=cfg.timeout,
            keepalive=cfg.keepalive, retries=cfg.retries,
        )  # fmt: skip

    def sftp_config(self) -> SftpConfig:
        """These settings as the plain-Python configuration object."""
        return SftpConfig(
            known_hosts=self.known_hosts, key_file=self.key_file, password_env=self.password_env,
            allow_unknown_hosts=self.allow_unknown_hosts, timeout=self.timeout,
            keepalive=self.keepalive, retries=self.retries,
        )  # fmt: skip

    def open(self, url: str) -> Location:
        """Open ``url`` (``sftp://user@host:port/path`` or a local path); close it when done."""
        cfg = self.sftp_config()
        if self.password and is_sftp_url(url):
            from pipeline.locations.sftp import SftpLocation

            return SftpLocation.from_url(url, cfg, password=self.password)
        return open_location(url, cfg)
