"""A throw-away study for end-to-end tests: folders, a config file, and runs through the CLI."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.cli import main


@dataclass
class Study:
    """Local folders + SQLite (or any state URL) for one study under ``root``."""

    root: Path
    state: str | None = None
    source: str | None = None
    publish: str | None = None
    options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.drop = self.root / "drop"
        self.pub = self.root / "publish"
        self.cids = self.root / "cids"
        self.drop.mkdir(parents=True, exist_ok=True)
        cfg = {
            "kind": "panel",
            "source": self.source or str(self.drop),
            "publish": self.publish or str(self.pub),
            "cid_out": str(self.cids),
            "state": self.state or f"sqlite:///{self.root / 'state.db'}",
            "archive": str(self.root / "archive"),
            # the seed's plain .csv daily files, which most tests name; the default (.csv.gz)
            # is tested where a test sets gzip_daily itself (test_layout, test_nights)
            "gzip_daily": False,
            **(self.options or {}),
        }
        self.config = self.root / "config.yaml"
        self.config.write_text(yaml.safe_dump(cfg))

    def configure(self, **changes: Any) -> None:
        """Change keys of the study's configuration file (None removes a key)."""
        cfg = yaml.safe_load(self.config.read_text())
        for key, value in changes.items():
            if value is None:
                cfg.pop(key, None)
            else:
                cfg[key] = value
        self.config.write_text(yaml.safe_dump(cfg))

    def run(self, as_of: str, *extra: str) -> int:
        """One nightly run at the clock ``as_of`` (through the Dagster job, like the CLI)."""
        return main(["run", "--config", str(self.config), "--as-of", as_of, *extra])

    def files(self) -> list[str]:
        """Published file names (relative), sorted."""
        return sorted(
            p.relative_to(self.pub).as_posix() for p in self.pub.rglob("*") if p.is_file()
        )

    def daily(self) -> list[str]:
        return [f for f in self.files() if "_recordedby_" in f and "/" not in f]

    def text(self, name: str) -> str:
        data = (self.pub / name).read_bytes()
        return (gzip.decompress(data) if name.endswith(".gz") else data).decode()
