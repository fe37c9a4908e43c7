"""A panel study over a real SQLite state in a temporary folder, whose night's stages a test
calls one at a time (:mod:`pipeline.panel.stages`), as :func:`pipeline.panel.run.run_night`
does."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.clock import parse_as_of
from pipeline.config import Config
from pipeline.context import RunContext
from pipeline.fetching import FetchResult
from pipeline.panel.run import run_night
from pipeline.panel.settings import rebuilding
from pipeline.panel.stages import days, eligibility, fetch, lag, ledger, normalize
from pipeline.panel.stages.days import DayBuild
from pipeline.panel.stages.eligibility import EligibilityResult
from pipeline.panel.stages.lag import LagResult
from pipeline.panel.stages.ledger import LedgerDelta
from pipeline.panel.stages.normalize import NormalizeResult
from pipeline.publishing import PublishResult
from pipeline.state.store import StateStore
from tests.exports import write_export

STAGES = ("fetch", "normalize", "eligibility", "ledger", "lag", "days")


@dataclass
class Staged:
    """The results of a night's stages so far (None: not run)."""

    ctx: RunContext
    fetch: FetchResult | None = None
    norm: NormalizeResult | None = None
    elig: EligibilityResult | None = None
    delta: LedgerDelta | None = None
    lag: LagResult | None = None
    build: DayBuild | None = None


@dataclass
class Panel:
    """Folders (drop, publish, CID lists, weights) and a SQLite state under ``root``."""

    root: Path
    options: dict[str, Any] = field(default_factory=dict)
    weights: bool = False  # configure the weights folder as the weights source

    def __post_init__(self) -> None:
        self.drop, self.pub = self.root / "drop", self.root / "publish"
        self.cids, self.weights_dir = self.root / "cids", self.root / "weights"
        for folder in (self.drop, self.weights_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.store = StateStore(f"sqlite:///{self.root / 'state.db'}")
        self.configure(**self.options)

    def configure(self, **options: Any) -> Config:
        """The study's configuration: the folders above plus ``options`` (replacing any
        given before)."""
        base = {
            "source": str(self.drop), "publish": str(self.pub), "cid_out": str(self.cids),
            "archive": str(self.root / "archive"), "state": self.store.url,
        }  # fmt: skip
        if self.weights:
            base["weights"] = str(self.weights_dir)
        self.cfg = Config(**{**base, **options}).validate()
        return self.cfg

    def context(self, as_of: str, **kw: Any) -> RunContext:
        """A run at the clock ``as_of`` (ISO 8601) over the current state."""
        return RunContext(
            self.cfg, parse_as_of(as_of), self.store, base_seq=self.store.last_seq(), **kw
        )

    def export(self, name: str, rows: list[dict[str, str]], **kw: Any) -> Path:
        return write_export(self.drop, name, rows, **kw)

    def weights_file(self, name: str, text: str) -> Path:
        path = self.weights_dir / name
        path.write_text(text)
        return path

    def stages(self, ctx: RunContext, until: str = "days") -> Staged:
        """The night's stages in order, up to and including ``until``."""
        out = Staged(ctx)
        out.fetch = fetch.fetch_exports(ctx, rebuild=rebuilding(ctx))
        if until == "fetch":
            return out
        out.norm = normalize.normalize_exports(ctx, out.fetch)
        if until == "normalize":
            return out
        out.elig = eligibility.apply_eligibility(ctx, out.norm)
        if until == "eligibility":
            return out
        out.delta = ledger.resolve_collisions(ctx, out.elig)
        if until == "ledger":
            return out
        out.lag = lag.apply_lag_policy(ctx, out.delta)
        if until == "lag":
            return out
        out.build = days.build_days(ctx, out.norm, out.delta, out.lag)
        return out

    def night(self, as_of: str, **kw: Any) -> PublishResult:
        """A whole night, committed (the state a later stage test starts from)."""
        return run_night(self.context(as_of, **kw))

    def close(self) -> None:
        self.store.dispose()
