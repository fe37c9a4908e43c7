"""Stage 6: the day stores the delta touches, rebuilt, and the closed days due rendered."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.arrays import to_numpy
from pipeline.clock import day_range
from pipeline.config import Config
from pipeline.context import RunContext
from pipeline.fetching import (
    Layout,
)
from pipeline.panel.columns import merge_layouts
from pipeline.panel.lag import ON_TIME
from pipeline.panel.output import store_columns
from pipeline.panel.qualtrics import (
    TOKEN,
)
from pipeline.panel.settings import (
    LEDGER_PARTS,
    RENDER_PARTS,
    describe_change,
)
from pipeline.panel.stages.lag import LagResult
from pipeline.panel.stages.ledger import DeltaPart, LedgerDelta
from pipeline.panel.stages.normalize import NormalizeResult
from pipeline.panel.stages.render import DayRenderer, RenderedDay, read_store
from pipeline.staging import read_table, table_columns, write_frame
from pipeline.state.store import StateStore

TAKE_GROUP = 4  # columns per memory map when new winners are taken from the batch


@dataclass(frozen=True)
class DayStore:
    """A day's stored winners (as parsed), a file under the work folder (None: no winners)."""

    store: str | None
    rows: int


@dataclass(frozen=True)
class DayPlan:
    """The day stores rebuilt and which closed days to render (and with what)."""

    questions: tuple[str, ...] = ()
    schema_changed: bool = False
    stores: Mapping[str, DayStore] = field(default_factory=dict)  # by day
    layouts: tuple[Layout, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    to_render: tuple[str, ...] = ()
    rerendered: tuple[str, ...] = ()
    change: str = ""
    weights: str | None = None  # this run's new weights (lag policy)
    rebuild: bool = False
    # the run's resolved configuration and clock: a render step in another process (a
    # fan-out worker) reads the same state and work folder (see render_context)
    cfg: Config | None = None
    as_of: datetime | None = None

    def store_of(self, day: str, day_rows: Mapping[str, Mapping[str, Any]]) -> str | None:
        """The day's store: rebuilt by this run, else as the state has it."""
        if day in self.stores:
            return self.stores[day].store
        return day_rows.get(day, {}).get("store")


@dataclass(frozen=True)
class DayBuild:
    """New day-store files and rendered daily CSVs (cached by content hash)."""

    questions: tuple[str, ...] = ()
    schema_changed: bool = False
    stores: Mapping[str, DayStore] = field(default_factory=dict)  # by day
    rendered: Mapping[str, RenderedDay] = field(default_factory=dict)  # by day
    layouts: tuple[Layout, ...] = ()
    # what this run's derived state is built with (a JSON document: pipeline.panel.settings)
    settings: Mapping[str, Any] = field(default_factory=dict)
    # Days rendered again because what shapes their values changed, and that change in words
    rerendered: tuple[str, ...] = ()
    change: str = ""
    withheld: int = 0  # eligible winners of rendered days not published (no weight / late)
    guarded: int = 0  # text cells of rendered days prefixed with ' (spreadsheet formulas)


def build_days(
    ctx: RunContext, norm: NormalizeResult, delta: LedgerDelta, lag: LagResult
) -> DayBuild:
    """The stage in one call: :func:`plan_days`, :func:`render_days` of every day due,
    :func:`assemble_days` (the Dagster asset fans the rendering out instead)."""
    plan = plan_days(ctx, norm, delta, lag)
    return assemble_days(plan, render_days(ctx, plan, plan.to_render))


def plan_days(
    ctx: RunContext, norm: NormalizeResult, delta: LedgerDelta, lag: LagResult
) -> DayPlan:
    """Rebuild the day stores the delta touches, batch by batch in delivery order; plan the
    rendering of every closed day that must be (re)published: a day whose content changed,
    a day never rendered, and every day rendered under other settings (its render key
    differs) or rebuilt from the archive."""
    old_layouts = [Layout.from_json(doc) for doc in ctx.store.layouts()]
    layouts = (*old_layouts, *(s.layout for s in norm.file_status.values() if s.layout))
    old_q = merge_layouts([(lay.key, list(lay.columns)) for lay in old_layouts])
    questions = merge_layouts([(lay.key, list(lay.columns)) for lay in layouts])
    renderer = DayRenderer.for_run(ctx, questions, None, lag.rebuild)  # its keys only
    day_rows = ctx.store.days()
    to_render: list[str] = []
    rerendered: list[str] = []
    first = ctx.first_day(delta)
    if first is not None and first <= lag.last_closed:
        dirty = set(delta.dirty_days) | set(lag.weight_days)
        for d in day_range(date.fromisoformat(first), date.fromisoformat(lag.last_closed)):
            day = d.isoformat()
            known = day_rows.get(day, {})
            rekeyed = bool(known.get("csv_sha")) and (
                lag.rebuild or known.get("render_key") != renderer.render_key
            )
            due = day in dirty or day in ctx.forced_days or known.get("stale")
            if due or rekeyed or not known.get("csv_sha"):
                to_render.append(day)
                if rekeyed:
                    rerendered.append(day)
    stores: dict[str, DayStore] = {}
    for part in delta.parts:
        prepared = _DeltaByDay.load(ctx, part)
        for day in part.dirty_days:
            before = stores.get(day)
            known = {"store": before.store} if before else (
                None if lag.rebuild else day_rows.get(day)
            )  # fmt: skip
            stores[day] = _rebuild_store(ctx, day, known, prepared)
        del prepared
    for day in delta.dirty_days:  # a rebuild's days that no batch holds winners of
        stores.setdefault(day, DayStore(None, 0))
    return DayPlan(
        questions=tuple(questions), schema_changed=bool(old_layouts) and old_q != questions,
        stores=stores, layouts=layouts, settings=renderer.settings, to_render=tuple(to_render),
        rerendered=tuple(rerendered),
        change=describe_change(ctx.store.settings(), renderer.settings,
                               (*LEDGER_PARTS, *RENDER_PARTS)),
        weights=lag.weights, rebuild=lag.rebuild, cfg=ctx.cfg, as_of=ctx.as_of,
    )  # fmt: skip


@contextmanager
def render_context(plan: DayPlan, run_id: str) -> Iterator[RunContext]:
    """A context to render shares of ``plan`` in a step of their own (the fan-out): the
    plan's configuration and clock, the state read without the study's lock. Rendering
    writes nothing to the state or the publish location (CSVs cached by content hash,
    check files in the run's folder), so shares render in parallel; a run that committed
    meanwhile makes this run's commit fail (its base sequence number)."""
    assert plan.cfg is not None and plan.as_of is not None
    store = StateStore(plan.cfg.state)
    try:
        yield RunContext(cfg=plan.cfg, as_of=plan.as_of, store=store, run_id=run_id)
    finally:
        store.dispose()


def render_days(ctx: RunContext, plan: DayPlan, days: Sequence[str]) -> dict[str, RenderedDay]:
    """Render ``days`` of the plan, one at a time, from their stores (each day's CSV is
    cached by hash in the work folder). Independent of other days: a fan-out may render
    each share of the days on another worker."""
    weights = read_table(plan.weights, columns=["cid", "weight"]) if plan.weights else None
    renderer = DayRenderer.for_run(ctx, plan.questions, weights, plan.rebuild)
    day_rows = ctx.store.days()
    return {day: renderer.render(day, plan.store_of(day, day_rows)) for day in days}


def assemble_days(plan: DayPlan, rendered: Mapping[str, RenderedDay]) -> DayBuild:
    """The stage's result: the plan with its days rendered (in the plan's order)."""
    out = {day: rendered[day] for day in plan.to_render}
    return DayBuild(
        questions=plan.questions, schema_changed=plan.schema_changed, stores=plan.stores,
        rendered=out, layouts=plan.layouts, settings=plan.settings, rerendered=plan.rerendered,
        change=plan.change, withheld=sum(r.withheld for r in out.values()),
        guarded=sum(r.guarded for r in out.values()),
    )  # fmt: skip


def _take_rows(path: str, columns: list[str], rows: np.ndarray) -> pa.Table:
    """``columns`` of the staged table at ``path``, rows ``rows``.

    A few columns at a time, each group mapped and unmapped on its own: one map of the
    whole batch kept every page of it resident while the (almost as large) result was built.
    """
    picked = pa.array(np.asarray(rows, dtype="int64"))
    taken: list[pa.ChunkedArray] = []
    for i in range(0, len(columns), TAKE_GROUP):
        part = read_table(path, columns[i : i + TAKE_GROUP])
        taken += [part.column(c).take(picked) for c in part.column_names]
    return pa.table(taken, names=columns)


@dataclass
class _DeltaByDay:
    """The ledger delta indexed once for all days (Arrow hash lookups, no Python loops)."""

    tokens: pa.Array  # every changed token
    on_time: pa.Array  # bool per token: on time (weight-eligible)
    same_winner: pa.Array  # tokens whose (eligible) winner did not change
    winners: pa.Table | None  # new winners as parsed, grouped by day, flagged
    slices: Mapping[str, tuple[int, int]]

    @classmethod
    def load(cls, ctx: RunContext, part: DeltaPart) -> _DeltaByDay:
        """One batch's delta, with its new winners' rows (day-store columns) taken from
        the normalized batch it was made from."""
        changes = read_table(part.rows)
        tokens = changes.column("token").combine_chunks().cast(pa.string())
        on_time = pc.is_valid(changes.column("on_time_day")).combine_chunks()
        same = pc.and_(pc.invert(changes.column("winner_changed")), changes.column("eligible"))
        same_tokens = tokens.filter(same.combine_chunks())
        out = cls(tokens, on_time, same_tokens, None, part.winner_slices)
        # One take of the wide rows for all days (a take from the chunked batch joins
        # each column's chunks first: once per day cost more than writing them out).
        staged = read_table(part.winners)
        names = [c for c in table_columns(part.batch) if not c.startswith("_")]
        columns = store_columns(names, ctx.cfg.rules)
        rows = _take_rows(part.batch, columns, to_numpy(staged["_pos"]))
        out.winners = _with_on_time(rows, staged.column(ON_TIME).combine_chunks())
        return out

    def flags(self, tokens: pa.ChunkedArray | pa.Array) -> pa.Array:
        """Whether the given tokens are on time (False when unknown)."""
        idx = pc.index_in(tokens, value_set=self.tokens)
        return pc.fill_null(pc.take(self.on_time, idx), False)

    def new_rows(self, day: str) -> pa.Table | None:
        if self.winners is None or day not in self.slices:
            return None
        offset, length = self.slices[day]
        return self.winners.slice(offset, length) if length else None


def _with_on_time(table: pa.Table, flags: pa.Array) -> pa.Table:
    if ON_TIME in table.column_names:
        table = table.drop_columns([ON_TIME])
    return table.append_column(ON_TIME, flags)


def _rebuild_store(
    ctx: RunContext, day: str, known: Mapping[str, Any] | None, delta: _DeltaByDay
) -> DayStore:
    """The day's new winner set: old rows of untouched tokens, old rows whose winner stayed
    (with a fresh on-time flag), and the new winners of that day, all as parsed; written
    as the day's new store."""
    old = read_store(ctx, (known or {}).get("store"))
    parts: list[pa.Table] = []
    if old.num_rows:
        tokens = old.column(TOKEN)
        touched = pc.is_in(tokens, value_set=delta.tokens)
        parts.append(old.filter(pc.invert(touched)))
        same = old.filter(pc.and_(touched, pc.is_in(tokens, value_set=delta.same_winner)))
        if same.num_rows:
            parts.append(_with_on_time(same, delta.flags(same.column(TOKEN))))
    add = delta.new_rows(day)  # already flagged
    if add is not None:
        parts.append(add)
    parts = [p for p in parts if p.num_rows]
    if not parts:  # no winners (left): no store
        return DayStore(None, 0)
    table = pa.concat_tables(parts, promote_options="default")
    rel = Path("days") / day / f"{ctx.run_id}.arrow"
    write_frame(table, ctx.work / rel)
    return DayStore(rel.as_posix(), int(table.num_rows))
