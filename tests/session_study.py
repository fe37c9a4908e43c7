"""A throw-away session study for end-to-end tests: folders, a config file, runs through the
CLI, and an independent reading of the raw input (what *should* be published)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from pipeline.cli import main

STUDY_UUID = "0f620873-2847-4eeb-9854-df7898934c17"
STUDY_NAME = "Physics Study"
SLUG = "Physics-Study"
START = date(2024, 3, 1)
ZONE = ZoneInfo("America/Los_Angeles")


def stamp(day: date) -> str:
    """The date as it appears in the synthetic file names."""
    return day.strftime("%Y_%m_%d")


def night_clock(night: int) -> str:
    """The clock of night ``night`` (0 = the morning after START), 05:00 Pacific."""
    return f"{(START + timedelta(days=night + 1)).isoformat()}T13:00:00Z"


def files_of_day(paths: Iterable[Path], day: date) -> list[Path]:
    """The raw files generated for (responses, videos) or arriving on (rulings) ``day``."""
    return [p for p in paths if p.stem.endswith(stamp(day))]


@dataclass
class SessionStudy:
    """Local folders + SQLite for one session study under ``root``."""

    root: Path
    session: dict[str, Any] | None = None  # changes to the session: block
    source: str | None = None
    publish: str | None = None
    options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.drop = self.root / "drop"
        self.pub = self.root / "publish"
        self.archive = self.root / "archive"
        self.drop.mkdir(parents=True, exist_ok=True)
        self.config = self.root / "config.yaml"
        self.write_config()

    def write_config(self, **session_changes: Any) -> None:
        session = {
            "study_uuid": STUDY_UUID,
            "study_name": STUDY_NAME,
            "salt_env": "STUDY_SALT",
            "hash_digits": 6,
            "identifying": [],
            "include_preview": False,
            **(self.session or {}),
            **session_changes,
        }
        cfg = {
            "kind": "session",
            "source": self.source or str(self.drop),
            "publish": self.publish or str(self.pub),
            "state": f"sqlite:///{self.root / 'state.db'}",
            "archive": str(self.archive),
            **(self.options or {}),
            "session": session,
        }
        self.config.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def deliver(self, paths: Iterable[Path]) -> list[str]:
        """Copy raw files into the drop; returns their names."""
        names = []
        for path in paths:
            shutil.copy(path, self.drop / path.name)
            names.append(path.name)
        return names

    def run(self, as_of: str, *extra: str) -> int:
        """One nightly run through the CLI (the Dagster job, in-process)."""
        return main(["run", "--config", str(self.config), "--as-of", as_of, *extra])

    def files(self) -> list[str]:
        """Every published file name (relative), sorted; no dot-temp files."""
        if not self.pub.exists():
            return []
        return sorted(
            p.relative_to(self.pub).as_posix()
            for p in self.pub.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def study_files(self) -> dict[str, bytes]:
        """Published files without run manifests and SHA256SUMS (they carry run ids)."""
        return {
            name: (self.pub / name).read_bytes()
            for name in self.files()
            if not name.startswith("runs/") and name != "SHA256SUMS"
        }

    def manifests(self) -> list[dict[str, Any]]:
        """Every run manifest, oldest first."""
        paths = sorted(
            (self.pub / "runs").glob("*.json"), key=lambda p: (p.name[:10], p.stat().st_mtime_ns)
        )
        return [json.loads(p.read_text()) for p in paths]

    def manifest(self) -> dict[str, Any]:
        return self.manifests()[-1]

    def read(self, name: str) -> bytes:
        return (self.pub / name).read_bytes()

    def csv_rows(self, name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.read(name).decode("utf-8"), newline="")))

    def csv_header(self, name: str) -> list[str]:
        return next(csv.reader(io.StringIO(self.read(name).decode("utf-8"), newline="")))

    def response_uuids(self, ident: str = "") -> tuple[set[str], set[str]]:
        """Response UUIDs of the all-responses CSV and of the JSON."""
        rows = self.csv_rows(f"{SLUG}_all-responses{ident}.csv")
        nested = json.loads(self.read(f"{SLUG}_all-responses{ident}.json"))
        in_csv = [r["response__uuid"] for r in rows]
        in_json = [r["response"]["uuid"] for r in nested]
        assert len(in_csv) == len(set(in_csv)) and len(in_json) == len(set(in_json))
        return set(in_csv), set(in_json)

    def all_bytes(self) -> dict[str, bytes]:
        """Every published file's bytes, plus every ZIP member as ``zip!member`` and every
        gzip file's content as ``name.gz!``."""
        out = {}
        for name in self.files():
            data = self.read(name)
            out[name] = data
            if name.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    for member in zf.namelist():
                        out[f"{name}!{member}"] = zf.read(member)
            if name.endswith(".gz"):
                out[f"{name}!"] = gzip.decompress(data)
        return out


# --------------------------------------------------------------------------- raw input


def raw_records(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every record of the ``*.json`` files among ``paths``, as delivered."""
    records = []
    for path in sorted(paths):
        if path.suffix == ".json":
            records.extend(json.loads(path.read_text(encoding="utf-8")))
    return records


def raw_rulings(paths: Iterable[Path]) -> list[dict[str, str]]:
    """Every ruling row of the ``*consent*.csv`` files among ``paths``, with its file name."""
    rows = []
    for path in sorted(paths):
        if "consent" in path.name and path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as fh:
                rows.extend({**row, "file": path.name} for row in csv.DictReader(fh))
    return rows


def newest_ruling_rows(rows: Iterable[dict[str, str]]) -> dict[str, dict[str, str]]:
    """response uuid -> its newest ruling row (ISO 8601 Z stamps sort as text)."""
    newest: dict[str, dict[str, str]] = {}
    for row in rows:
        cur = newest.get(row["response_uuid"])
        if cur is None or row["created_at"] > cur["created_at"]:
            newest[row["response_uuid"]] = row
    return newest


def rulings_in_force(rows: Iterable[dict[str, str]]) -> dict[str, str]:
    """response uuid -> action of the newest ruling."""
    return {uid: row["action"] for uid, row in newest_ruling_rows(rows).items()}


def expected_published(paths: Iterable[Path], include_preview: bool = False) -> set[str]:
    """Response UUIDs that must be published from these raw files (SPEC §4.2)."""
    paths = list(paths)
    rulings = rulings_in_force(raw_rulings(paths))
    out = set()
    for record in raw_records(paths):
        response = record["response"]
        if response["is_preview"] and not include_preview:
            continue
        if response["completed_consent_frame"] and rulings.get(response["uuid"]) == "accepted":
            out.add(response["uuid"])
    return out


def for_day(record: dict[str, Any]) -> str:
    """The `for` day of a raw record: ``date_created`` in America/Los_Angeles."""
    created = datetime.fromisoformat(record["response"]["date_created"].replace("Z", "+00:00"))
    return created.astimezone(ZONE).date().isoformat()
