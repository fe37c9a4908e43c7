"""Pipeline configuration: the YAML file of SPEC §8, validated; unknown keys are an error."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

# Default SurveyID -> wave table (SPEC §3.1); overridable with `waves:` in the file.
DEFAULT_WAVES: dict[str, int] = {
    "SV_8zYl1sFN6fAFIxv": 1,
    "SV_cT2ri3tFp2dhJGZ": 2,
    "SV_8bKZvWZcGbvzsz3": 3,
    "SV_eVXdPlGVNw04el7": 4,
    "SV_2hErnivitm0th8F": 5,
    "SV_8HCnaK1BJPsI3BP": 6,
    "SV_ddjHkcYrrLWgM2V": 7,
    "SV_ewAVaX7Wz3l0UqG": 8,
    "SV_6PADB8DyF9SIyXk": 10,
    "SV_4VEaeffqQtDo33M": 11,
    "SV_eDISRi5wQcNU70G": 12,
    "SV_2iv3tPKlYKqnalM": 13,
}

DEFAULT_NUMERIC_ITEMS: tuple[str, ...] = (
    "A2", "A2b", "B2b", "Q40", "C10_1_1", "C10_2_1", "C10_3_1", "C10_4_1", "D3", "D4", "D5",
)  # fmt: skip


class ConfigError(ValueError):
    """The configuration file or a flag is invalid."""


@dataclass
class SftpConfig:
    """How SFTP locations authenticate and verify the server (SPEC §5)."""

    known_hosts: str = "~/.ssh/known_hosts"
    key_file: str | None = "~/.ssh/id_ed25519"
    password_env: str | None = None
    allow_unknown_hosts: bool = False
    timeout: float = 30.0
    keepalive: int = 15
    retries: int = 4


@dataclass
class SessionConfig:
    """Settings of a session study (SPEC §4)."""

    study_uuid: str = ""
    study_name: str = ""
    salt_env: str = "STUDY_SALT"
    hash_digits: int = 6
    identifying: list[str] = field(default_factory=list)
    include_preview: bool = False


@dataclass
class PanelRules:
    """Rule parameters of panel studies (SPEC §3.3); defaults are the seed's."""

    consent_column: str = "S1"
    consent_value: str = "1"
    min_answers: int = 2
    numeric_items: list[str] = field(default_factory=lambda: list(DEFAULT_NUMERIC_ITEMS))
    require_us_state: bool = False
    state_column: str = "QState_A3"
    cutoff_hour: int = 4


@dataclass
class Config:
    """One study's pipeline configuration (SPEC §8)."""

    kind: str = "panel"
    source: str = "data/drop"
    publish: str = "data/publish"
    weights: str | None = None
    cid_out: str | None = None
    state: str = "sqlite:///data/state.db"
    archive: str = "data/raw-archive"
    timezone: str = "America/Los_Angeles"
    reissue: str = "all"
    stabilization_days: int = 4
    max_gap_days: int = 7  # refuse to publish more empty days than this past the newest input
    gzip_daily: bool = False
    zip_population: str | None = None
    sftp: SftpConfig = field(default_factory=SftpConfig)
    session: SessionConfig | None = None
    rules: PanelRules = field(default_factory=PanelRules)
    waves: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WAVES))
    rollup_delay_days: int | None = None  # default: stabilization_days
    max_cell_chars: int = 32767  # longer input cells quarantine their file (SPEC §6)

    def validate(self) -> Config:
        """Check values; returns self so calls chain."""
        if self.kind not in ("panel", "session"):
            raise ConfigError(f"kind must be 'panel' or 'session', not {self.kind!r}")
        if self.reissue not in ("all", "changed"):
            raise ConfigError(f"reissue must be 'all' or 'changed', not {self.reissue!r}")
        for name in ("stabilization_days", "max_gap_days"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0")
        if self.max_cell_chars < 1:
            raise ConfigError("max_cell_chars must be >= 1")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except Exception as exc:  # noqa: BLE001 - any failure means an unknown zone
            raise ConfigError(f"unknown timezone {self.timezone!r}") from exc
        if self.kind == "session":
            if self.session is None or not self.session.study_uuid:
                raise ConfigError("kind: session needs a session: block with study_uuid")
        return self

    @property
    def work_dir(self) -> Path:
        """Local working cache (derived data, rebuildable from the archive) next to the archive."""
        return Path(self.archive).expanduser() / "_work"

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with the non-None overrides applied (command-line flags win over the file)."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **changes).validate()


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


def _type_name(hint: Any) -> str:
    """How an expected type reads in an error message."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in args) + " or null"
    if origin is list:
        return f"a list of {_type_name(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a mapping of " + " to ".join(_type_name(a) for a in args)
    return _TYPE_NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _has_type(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits a field's type hint (bool is not an integer here)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_has_type(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list) and all(_has_type(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _has_type(k, args[0]) and _has_type(v, args[1]) for k, v in value.items()
        )
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _build(cls: type, data: Any, where: str, prefix: str = "") -> Any:
    """``cls`` from a YAML mapping, every key checked against its type hint.

    Errors read ``FILE: [section.]key must be ...``.
    """
    if data is None:
        return cls()
    if not isinstance(data, dict):
        what = f"{prefix.rstrip('.')} must be" if prefix else "expected"
        raise ConfigError(f"{where}: {what} a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(prefix + k for k in unknown)}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    nested = {"sftp": SftpConfig, "session": SessionConfig, "rules": PanelRules}
    for key, value in data.items():
        if key in nested and cls is Config:
            kwargs[key] = _build(nested[key], value, where, f"{key}.")
            continue
        if not _has_type(value, hints[key]):
            raise ConfigError(
                f"{where}: {prefix}{key} must be {_type_name(hints[key])}, "
                f"got {type(value).__name__}"
            )
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _resolve(value: str | None, base: Path) -> str | None:
    """Relative local paths in a config file are relative to the file's folder."""
    if value is None or "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _resolve_db(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite://":
        rest = url[len(prefix) :]
        if rest and rest != ":memory:":
            return prefix + str((base / rest).resolve())
    return url


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a YAML configuration file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file not found: {p}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if data is None:
        raise ConfigError(f"{p}: the configuration file is empty (it needs at least kind:)")
    cfg: Config = _build(Config, data, str(p))
    base = p.resolve().parent
    for name in ("source", "publish", "weights", "cid_out", "archive", "zip_population"):
        setattr(cfg, name, _resolve(getattr(cfg, name), base))
    cfg.state = _resolve_db(cfg.state, base)
    if cfg.sftp.known_hosts:
        cfg.sftp.known_hosts = _resolve(cfg.sftp.known_hosts, base)
    if cfg.sftp.key_file:
        cfg.sftp.key_file = _resolve(cfg.sftp.key_file, base)
    try:
        return cfg.validate()
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
