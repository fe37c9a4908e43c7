"""The studies a code location serves (SPEC §7 "Several studies, one code location").

``PIPELINE_STUDIES`` names a folder with one YAML configuration file per study (panel or
session); each file's stem is the study's name: its assets are keyed ``[name, stage]``,
with a group, a nightly job, a schedule, a sensor and locks of its own. Without it,
``PIPELINE_CONFIG`` names the one study's file. With neither, the shipped demo folder
``config/studies/`` (a panel and a session study) is served.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Config, ConfigError, load_config
from pipeline.provenance import code_version

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STUDIES = ROOT / "config" / "studies"  # the demo: one panel and one session study
STUDIES_ENV, CONFIG_ENV = "PIPELINE_STUDIES", "PIPELINE_CONFIG"
# Study names become parts of asset keys, job and resource names.
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
DEFAULT_OWNERS = ("team:survey-data",)  # when a study's file names no `owners`


@dataclass(frozen=True)
class Study:
    """One study of the code location: its name, configuration file and settings."""

    name: str
    config_path: str
    cfg: Config

    @property
    def resource_key(self) -> str:
        """The key of the study's :class:`resources.study.StudyResource`."""
        return f"{self.name}_study"

    @property
    def io_manager_key(self) -> str:
        """The key of the study's :class:`assets.io.StageIOManager`."""
        return f"{self.name}_stages"

    @property
    def published_asset(self) -> str:
        """The last part of the study's published-files asset key."""
        return "published_files" if self.cfg.kind == "panel" else "session_published_files"

    @property
    def job_name(self) -> str:
        """The study's nightly job."""
        return f"{self.name}_nightly"

    def asset_meta(self, *kinds: str) -> dict[str, Any]:
        """What every asset of the study carries in the UI: its owners (the study's
        ``owners``, else :data:`DEFAULT_OWNERS`), ``kinds``, tags naming the study and its
        kind, and the code version (as in the run manifests)."""
        return {
            "owners": list(self.cfg.owners or DEFAULT_OWNERS),
            "kinds": set(kinds),
            "tags": {"study": self.name, "study_kind": self.cfg.kind},
            "code_version": code_version(),
        }

    @property
    def nightly_cron(self) -> str:
        """90 minutes after the study's cut-off, daily (in the study's time zone)."""
        minutes = self.cfg.rules.cutoff_hour * 60 + 90
        return f"{minutes % 60} {minutes // 60 % 24} * * *"


def load_study(path: str | os.PathLike[str]) -> Study:
    """A study from its configuration file; :class:`ConfigError` naming the file otherwise."""
    p = Path(path).resolve()
    if not NAME_RE.match(p.stem):
        raise ConfigError(
            f"{p}: the file name is the study's name and must start with a letter and hold "
            "only letters, digits and _ (it becomes part of asset keys)"
        )
    return Study(name=p.stem, config_path=str(p), cfg=load_config(p))


def study_files() -> list[Path]:
    """The configuration files this code location serves (see the module docstring)."""
    folder = os.environ.get(STUDIES_ENV)
    if folder:
        return _folder_files(Path(folder).expanduser(), f"{STUDIES_ENV}={folder}")
    config = os.environ.get(CONFIG_ENV)
    if config:
        return [Path(config)]
    return _folder_files(DEFAULT_STUDIES, str(DEFAULT_STUDIES))


def _folder_files(root: Path, what: str) -> list[Path]:
    """The ``*.yaml``/``*.yml`` study files of a folder, sorted."""
    if not root.is_dir():
        raise ConfigError(f"{what}: not a folder")
    files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    if not files:
        raise ConfigError(f"{what}: no *.yaml study configuration in it")
    return files


def load_studies() -> list[Study]:
    """Every study of the code location; an invalid one fails loading with its reason."""
    studies = [load_study(p) for p in study_files()]
    names = [s.name for s in studies]
    if len(set(names)) != len(names):
        raise ConfigError(f"{STUDIES_ENV}: two studies share a name: {sorted(names)}")
    return studies
