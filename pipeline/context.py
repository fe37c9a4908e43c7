"""What every stage of a run needs: configuration, clock, state, archive and locations."""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.archive import Archive
from pipeline.clock import last_closed_day, local_date
from pipeline.config import Config
from pipeline.locations import Location, open_location
from pipeline.staging import sweep_stale_temps, write_bytes_atomic
from pipeline.state.store import RunChanges, StateStore

RUN_DIR_KEEP_DAYS = 7


class WorkFolderLostError(RuntimeError):
    """A file the state refers to is missing from the work folder."""


def read_work_file(path: Path) -> bytes:
    """A file of the work folder that the state refers to; its loss (a deleted ``_work/``)
    is reported with the way out instead of a bare FileNotFoundError."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise WorkFolderLostError(
            f"{path} is missing: the work folder was removed or moved; rebuild it with "
            "`python -m pipeline rebuild --config FILE`"
        ) from None


def new_run_id(as_of: datetime) -> str:
    """A sortable, unique run id."""
    return as_of.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


@dataclass
class RunContext:
    """One run's view of the world. Locations are opened through ``opener`` (a resource)."""

    cfg: Config
    as_of: datetime
    store: StateStore
    run_id: str = ""
    opener: Callable[[str], Location] | None = None
    base_seq: int = 0
    # Days re-rendered and re-published whatever changed (a backfill's day range).
    forced_days: frozenset[str] = frozenset()
    # A rebuild from the raw archive (``python -m pipeline rebuild``): the ledger, weights
    # and day stores are recomputed, the source is not read, and only what differs is
    # published.
    rebuild: bool = False

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        self.run_id = self.run_id or new_run_id(self.as_of)
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def open(self, url: str) -> Location:
        """Open a location (local or SFTP) with the configured credentials."""
        if self.opener is not None:
            return self.opener(url)
        return open_location(url, self.cfg.sftp)

    @property
    def fetch_source(self) -> bool:
        """Whether the run reads the source (a rebuild uses the archive alone)."""
        return not self.rebuild

    @cached_property
    def archive(self) -> Archive:
        return Archive(self.cfg.archive)

    @property
    def work(self) -> Path:
        return self.cfg.work_dir

    @property
    def run_dir(self) -> Path:
        return self.work / "runs" / self.run_id

    def clean_run_dirs(self, keep_days: float = RUN_DIR_KEEP_DAYS) -> None:
        """After a committed run: drop its staging folder (its outputs are in the state and
        the day stores now) and those of runs older than ``keep_days`` (failed runs keep
        theirs that long, so Dagster can re-execute them from the failed step). Temp files
        that killed processes left in the work folder go too (the publishing journal is
        :mod:`pipeline.recovery`'s)."""
        shutil.rmtree(self.run_dir, ignore_errors=True)
        sweep_stale_temps(self.work, skip=("publishing",))
        cutoff = time.time() - keep_days * 86400
        for old in (self.work / "runs").glob("*"):
            try:
                if old.is_dir() and old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
            except FileNotFoundError:  # removed meanwhile by a parallel day run
                pass

    @property
    def recorded(self) -> date:
        """The run's date in the study's time zone: the `recorded` date of its files."""
        return local_date(self.as_of, self.cfg.timezone)

    @property
    def last_closed(self) -> date:
        """The newest day whose 04:00 cut-off has passed at the run's clock."""
        return last_closed_day(self.as_of, self.cfg.timezone, self.cfg.rules.cutoff_hour)

    @cached_property
    def zip_population(self) -> dict[str, int] | None:
        """ZIP5 → population from the configured table, or None."""
        if not self.cfg.zip_population:
            return None
        table = pd.read_csv(self.cfg.zip_population, dtype={"zip5": str})
        return dict(zip(table["zip5"].str.zfill(5), table["population"].astype(int), strict=True))

    def new_changes(self, base_seq: int = 0) -> RunChanges:
        """An empty record of what this run will commit. ``base_seq``: the newest run
        committed when this run read the state (its commit is refused if another run
        committed since)."""
        return RunChanges(
            run_id=self.run_id, as_of=self.as_of.isoformat(), recorded=self.recorded.isoformat(),
            base_seq=base_seq, scratch=str(self.run_dir),
        )  # fmt: skip

    def cache_csv(self, data: bytes) -> str:
        """Keep rendered CSV bytes by content hash (for links, cumulative files, rollups)."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.csv_cache(digest)
        if not path.exists():
            write_bytes_atomic(path, data)
        return digest

    def csv_cache(self, digest: str) -> Path:
        return self.work / "csv" / digest[:2] / f"{digest}.csv"

    def cached_csv(self, digest: str) -> bytes:
        """The rendered CSV bytes kept under ``digest`` (see :meth:`cache_csv`)."""
        return read_work_file(self.csv_cache(digest))

    def first_day(self, delta: Any) -> str | None:
        """The first `for` day with any data (stored days and this run's delta)."""
        known = list(self.store.days())
        return min([*known, *getattr(delta, "dirty_days", [])], default=None)
