"""The study resource: configuration, run clock, state store and run lock for one Dagster run."""

import contextlib

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from pipeline.clock import parse_as_of
from pipeline.config import Config, load_config
from pipeline.context import RunContext
from pipeline.history import last_published_clock
from pipeline.state.store import StateStore


def run_clock(context: InitResourceContext) -> str | None:
    """The clock of a run launched without ``as_of`` (a sensor, the UI): when the run (or
    the run it re-executes) was created, so every step, in any process, and every
    re-execution uses one clock."""
    run = context.run
    root = run.root_run_id or run.run_id
    record = context.instance.get_run_record_by_id(root)
    return record.create_timestamp.isoformat() if record is not None else None


class StudyResource(ConfigurableResource):
    """One study's configuration file, with optional overrides (the CLI's flags) and clock.

    Holds the single-run lock of the study's state database for the whole run (nightly runs,
    backfills and rebuilds alike), so a second run started while one is in progress is
    refused; studies have their own state databases and run in parallel.
    """

    config_path: str
    as_of: str | None = None
    source: str | None = None
    publish: str | None = None
    weights: str | None = None
    cid_out: str | None = None
    state: str | None = None
    archive: str | None = None
    rebuild: bool = False  # recompute the derived state from the raw archive (CLI `rebuild`)
    step_retries: int = 2  # re-runs of a step after a transient transport error (CLI: 0)

    _ctx: RunContext | None = PrivateAttr(default=None)
    _stack: contextlib.ExitStack | None = PrivateAttr(default=None)

    def load(self) -> Config:
        """The configuration with the overrides applied."""
        cfg = load_config(self.config_path)
        return cfg.with_overrides(
            source=self.source, publish=self.publish, weights=self.weights,
            cid_out=self.cid_out, state=self.state, archive=self.archive,
        )  # fmt: skip

    def setup_for_execution(self, context: InitResourceContext) -> None:
        cfg = self.load()
        store = StateStore(cfg.state)
        self._stack = contextlib.ExitStack()
        self._stack.callback(store.dispose)
        self._stack.enter_context(store.run_lock())
        run_id = context.run.run_id if context.run else ""
        as_of = self.as_of
        if self.rebuild and not as_of:  # a rebuild reproduces the newest run's state
            as_of = store.last_as_of() or last_published_clock(cfg)
        if not as_of and context.run is not None and context.instance is not None:
            as_of = run_clock(context)
        self._ctx = RunContext(
            cfg=cfg, as_of=parse_as_of(as_of), store=store, run_id=run_id,
            base_seq=store.last_seq(), rebuild=self.rebuild,
        )  # fmt: skip

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._stack is not None:
            self._stack.close()

    @property
    def ctx(self) -> RunContext:
        """This run's context (built once per run and process)."""
        if self._ctx is None:
            raise RuntimeError("StudyResource used outside a run")
        return self._ctx
