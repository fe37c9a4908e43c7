"""Pipeline configuration: the YAML file of SPEC §8, validated; unknown keys are an error.

The sections are pydantic models (strict: YAML's ``4`` is not a string, ``true`` not an
integer; frozen). A bad file raises :class:`ConfigError` with one line, ``FILE: key ...``,
naming the first problem and never echoing a value other than an unknown enum or zone name.
"""

from __future__ import annotations

import os
import types
import typing
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.limits import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_COMPRESSION_RATIO,
    DEFAULT_MAX_EXPORT_BYTES,
)
from pipeline.state.urls import sqlite_file

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


# The seed survey's time zone: the default of every study's `timezone`.
DEFAULT_TIMEZONE = "America/Los_Angeles"


class ConfigError(ValueError):
    """The configuration file or a flag is invalid."""


class _Section(BaseModel):
    """A block of the configuration file: typed keys, no others."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SftpConfig(_Section):
    """How SFTP locations authenticate and verify the server (SPEC §5)."""

    known_hosts: str = "~/.ssh/known_hosts"
    key_file: str | None = "~/.ssh/id_ed25519"
    password_env: str | None = None
    allow_unknown_hosts: bool = False
    timeout: float = 30.0
    keepalive: int = 15
    retries: int = 4


class SessionConfig(_Section):
    """Settings of a session study (SPEC §4)."""

    study_uuid: str = ""
    study_name: str = ""
    salt_env: str = "STUDY_SALT"
    hash_digits: int = 6
    identifying: list[str] = Field(default_factory=list)
    include_preview: bool = False
    # the Psych-DS dataset's metadata (dataset_description.json, README.md); left out when
    # not given: nothing is invented for the study (SPEC §4.3)
    description: str | None = None
    author: list[str] = Field(default_factory=list)
    license: str | None = None
    keywords: list[str] = Field(default_factory=list)
    citation: str | None = None
    funder: str | None = None
    url: str | None = None

    @field_validator("description", "license", "citation", "funder", "url")
    @classmethod
    def _some_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty (leave the key out instead)")
        return value

    @field_validator("author", "keywords")
    @classmethod
    def _no_empty_item(cls, value: list[str]) -> list[str]:
        if any(not item.strip() for item in value):
            raise ValueError("must not list an empty name")
        return value


class PanelRules(_Section):
    """Rule parameters of panel studies (SPEC §3.3); defaults are the seed's."""

    consent_column: str = "S1"
    consent_value: str = "1"
    min_answers: int = 2
    numeric_items: list[str] = Field(default_factory=lambda: list(DEFAULT_NUMERIC_ITEMS))
    require_us_state: bool = False
    state_column: str = "QState_A3"
    cutoff_hour: int = 4
    # free text a spreadsheet would run as a formula (= + - @, not a number) gets a leading '
    guard_formulas: bool = True


class Config(_Section):
    """One study's pipeline configuration (SPEC §8); checked when built."""

    kind: Literal["panel", "session"] = "panel"
    source: str = "data/drop"
    publish: str = "data/publish"
    weights: str | None = None
    cid_out: str | None = None
    state: str = "sqlite:///data/state.db"
    archive: str = "data/raw-archive"
    timezone: str = DEFAULT_TIMEZONE
    reissue: Literal["all", "changed"] = "all"
    stabilization_days: int = Field(default=4, ge=0)
    # refuse to publish more empty days than this past the newest input
    max_gap_days: int = Field(default=7, ge=0)
    gzip_daily: bool = True
    zip_population: str | None = None
    sftp: SftpConfig = Field(default_factory=SftpConfig)
    session: SessionConfig | None = None
    rules: PanelRules = Field(default_factory=PanelRules)
    waves: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_WAVES))
    rollup_delay_days: int | None = None  # default: stabilization_days
    # longer input cells quarantine their file (SPEC §6)
    max_cell_chars: int = Field(default=32767, ge=1)
    # bounds of one export (pipeline.limits): a file over one is quarantined
    max_columns: int = Field(default=DEFAULT_MAX_COLUMNS, ge=1)
    max_export_bytes: int = Field(default=DEFAULT_MAX_EXPORT_BYTES, ge=1)
    max_compression_ratio: int = Field(default=DEFAULT_MAX_COMPRESSION_RATIO, ge=1)
    # rows per batch: a larger input (a rebuild, a first run over an inherited archive) is
    # replayed in batches of about this many rows, so memory is bounded by a batch
    batch_rows: int = Field(default=1_000_000, ge=1)
    # who answers for the study's files: e-mail addresses or `team:name` (shown in the UI)
    owners: list[str] = Field(default_factory=list)
    # the first day of the study's day partitions (default: its first published day)
    first_day: date | None = None

    @field_validator("first_day", mode="before")
    @classmethod
    def _iso_day(cls, value: Any) -> Any:
        """A quoted ``YYYY-MM-DD`` is a date too (YAML reads the unquoted form as one)."""
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"must be YYYY-MM-DD, not {value!r}") from None
        return value

    @model_validator(mode="after")
    def _zone_and_session(self) -> Config:
        """Checks run once every key has its type (in this order, as before pydantic)."""
        try:
            ZoneInfo(self.timezone)
        except Exception:  # noqa: BLE001 - any failure means an unknown zone
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        if self.kind == "session" and (self.session is None or not self.session.study_uuid):
            raise ValueError("kind: session needs a session: block with study_uuid")
        return self

    def validate(self) -> Config:  # type: ignore[override]  # BaseModel.validate: deprecated
        """Check the values again (building checked them); returns self so calls chain."""
        _parse(type(self), self.model_dump())
        return self

    @property
    def work_dir(self) -> Path:
        """Local working cache (derived data, rebuildable from the archive) next to the archive."""
        return Path(self.archive).expanduser() / "_work"

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with the non-None overrides applied (command-line flags win over the file)."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        return _parse(type(self), {**self.model_dump(), **changes})


# --- error messages: pydantic's errors as the one-line ``[section.]key must be ...`` ---------

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}

_M = typing.TypeVar("_M", bound=BaseModel)


def _type_name(hint: Any) -> str:
    """How an expected type reads in an error message."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in args) + " or null"
    if origin is Literal:
        return "a string"
    if origin is list:
        return f"a list of {_type_name(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a mapping of " + " to ".join(_type_name(a) for a in args)
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return "a mapping"
    return _TYPE_NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _section(hint: Any) -> type[BaseModel] | None:
    """The model a field holds (``SessionConfig | None`` -> ``SessionConfig``), if any."""
    for t in (hint, *typing.get_args(hint)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _locate(
    model: type[BaseModel], data: Any, loc: tuple[int | str, ...]
) -> tuple[list[str], Any, Any, list[int]]:
    """For an error's ``loc``: the key path (down to a field, not into its list or mapping),
    the field's type hint, its value as given, and the keys' places in the given mappings."""
    names: list[str] = []
    places: list[int] = []
    hint: Any = model
    value = data
    for part in loc:
        section = _section(hint)
        if section is None or not isinstance(value, dict):
            break
        names.append(str(part))
        places.append(list(value).index(part) if part in value else len(value))
        field = section.model_fields.get(str(part))
        if field is None:  # an unknown key
            break
        hint, value = field.annotation, value.get(part)
    return names, hint, value, places


def _describe(model: type[BaseModel], data: Any, exc: ValidationError) -> str:
    """The first problem, as the hand-written checks reported it: a section's unknown keys,
    then wrong types, in the order of the file; then the value checks, in field order."""
    errors = [(err, *_locate(model, data, err["loc"])) for err in exc.errors(include_url=False)]
    unknown: dict[tuple[str, ...], list[str]] = {}
    for err, names, *_ in errors:
        if err["type"] == "extra_forbidden":
            unknown.setdefault(tuple(names[:-1]), []).append(".".join(names))
    problems: list[tuple[tuple[int, ...], str]] = []
    for n, (err, names, hint, value, places) in enumerate(errors):
        key, kind, got = ".".join(names), err["type"], type(value).__name__
        if kind == "extra_forbidden":
            keys = ", ".join(sorted(unknown[tuple(names[:-1])]))
            problems.append(((0, *places[:-1], -1), f"unknown key(s): {keys}"))
        elif kind == "model_type":
            what = f"{key} must be" if key else "expected"
            problems.append(((0, *places), f"{what} a mapping, got {got}"))
        elif kind == "literal_error" and isinstance(value, str):
            problems.append(((1, n), f"{key} must be {err['ctx']['expected']}, not {value!r}"))
        elif kind.endswith("_type") or kind == "literal_error":
            problems.append(((0, *places), f"{key} must be {_type_name(hint)}, got {got}"))
        elif kind == "greater_than_equal":
            problems.append(((1, n), f"{key} must be >= {err['ctx']['ge']}"))
        else:  # a validator's own message, or pydantic's (which never holds the value)
            said = str(err["ctx"]["error"]) if kind == "value_error" else err["msg"]
            problems.append(((1, n), f"{key}: {said}" if key else said))
    return min(problems)[1]


def _parse(model: type[_M], data: Any, where: str = "") -> _M:
    """``model`` from ``data``; :class:`ConfigError` ``{where}{first problem}`` otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # from None: pydantic's own message echoes the values given
        raise ConfigError(where + _describe(model, data, exc)) from None


# --- the file ----------------------------------------------------------------------------


def _resolve(value: str | None, base: Path) -> str | None:
    """Relative local paths in a config file are relative to the file's folder."""
    if value is None or "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _resolve_db(url: str, base: Path) -> str:
    """A SQLite database file named relative to the config file's folder, made absolute."""
    db = sqlite_file(url)
    if db is None or Path(db).is_absolute():
        return url
    # the first ":///" ends the scheme; the file follows it
    return url.replace(f":///{db}", f":///{(base / db).resolve()}", 1)


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
    if isinstance(data, dict):  # an empty section (``sftp:``) means its defaults
        data = {
            k: {} if v is None and k in ("sftp", "session", "rules") else v for k, v in data.items()
        }
    cfg = _parse(Config, data, f"{p}: ")
    base = p.resolve().parent
    paths = ("source", "publish", "weights", "cid_out", "archive", "zip_population")
    sftp = {
        k: _resolve(v, base) for k in ("known_hosts", "key_file") if (v := getattr(cfg.sftp, k))
    }
    return cfg.model_copy(
        update={
            **{name: _resolve(getattr(cfg, name), base) for name in paths},
            "state": _resolve_db(cfg.state, base),
            "sftp": cfg.sftp.model_copy(update=sftp),
        }
    )
