"""Stage 4: the batch merged into the token ledger (earliest start wins, for all time).

A run whose input came in several batches (``batch_rows``: a rebuild, a first run over an
inherited archive) merges them one after another, in delivery order, as nights would: each
against the ledger as the batches before it left it (:class:`RunLedger`, on disk), so
memory is bounded by a batch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.arrays import to_numpy
from pipeline.context import RunContext
from pipeline.panel import collisions as coll
from pipeline.panel.lag import ON_TIME
from pipeline.panel.qualtrics import (
    RECORDED,
    START,
    SURVEY,
    TOKEN,
)
from pipeline.panel.settings import rebuilding
from pipeline.panel.stages.eligibility import EligibilityResult
from pipeline.staging import read_table, write_frame
from pipeline.state import bulk
from pipeline.state.run_ledger import LEDGER_TYPES, RunLedger


@dataclass(frozen=True)
class DeltaPart:
    """What one batch changed, against the ledger as the batches before it left it."""

    batch: str  # the normalized batch
    rows: str  # changed ledger rows (+ old_day, winner_changed, cid_pending)
    # New eligible winners, by day and in publication order: their positions in the
    # batch (``_pos``) and on-time flags; build_days takes their rows from the batch (the
    # wide rows are written once, as day stores).
    winners: str
    winner_slices: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # offset, n
    dirty_days: tuple[str, ...] = ()


@dataclass(frozen=True)
class LedgerDelta:
    """The batches' changes in order, and the final rows of every token they changed."""

    parts: tuple[DeltaPart, ...] = ()
    # a RunLedger file: the changed tokens' rows as they end (none when nothing was merged)
    ledger: str | None = None
    tokens_seen: int = 0  # summed over batches
    new_tokens: int = 0
    collisions: int = 0
    swaps: int = 0
    dirty_days: tuple[str, ...] = ()


def _iso(days64: np.ndarray) -> pa.Array:
    """datetime64 days → ``YYYY-MM-DD`` strings, null for NaT (each distinct day formatted once)."""
    # a hash factorization: np.unique sorts the million values of a large night
    inverse, uniq = pd.factorize(days64.astype("datetime64[D]"), use_na_sentinel=False)
    text = pa.array([None if np.isnat(d) else str(d) for d in np.asarray(uniq)], pa.string())
    return text.take(pa.array(inverse.astype("int32")))


def _aligned_ledger(
    ctx: RunContext, tokens: pa.Array, rebuild: bool, run: RunLedger | None
) -> tuple[pa.Table, np.ndarray]:
    """The ledger rows of ``tokens`` as this run sees them, aligned with them (nulls where
    a token is new), and which tokens were known: this run's rows (``run``: the batches
    before) first, then the stored ones. A rebuild starts from an empty ledger, keeping
    only which CID list each stored token went on (what was sent to the weighting partner
    is history, not derived state)."""
    names = list(LEDGER_TYPES)
    wanted = ["token", "cid_day"] if rebuild else names
    old = ctx.store.ledger_rows(to_numpy(tokens), wanted)
    table = pa.table({c: pa.nulls(len(tokens), LEDGER_TYPES[c]) for c in names})
    have = np.zeros(len(tokens), dtype=bool)
    if not old.empty:
        # SQLite hands booleans back as 0/1: build each column untyped, then cast.
        stored = pa.table(
            {c: pa.array(old[c].to_numpy(dtype=object), from_pandas=True).cast(LEDGER_TYPES[c])
             for c in wanted}
        )  # fmt: skip
        idx = pc.index_in(tokens, value_set=stored.column("token"))
        found = stored.take(idx)
        table = pa.table({c: found.column(c) if c in wanted else table.column(c) for c in names})
        if not rebuild:
            have = to_numpy(pc.is_valid(idx))
    if run is None:
        return table, have
    ours, mine = run.aligned(tokens)
    table = pa.table({c: pc.if_else(mine, ours.column(c), table.column(c)) for c in names})
    return table, have | to_numpy(mine)


def resolve_collisions(ctx: RunContext, elig: EligibilityResult) -> LedgerDelta:
    """Merge the batches into the ledger, one after another: earliest start wins per token,
    for all time.

    A rebuild starts from an empty ledger (keeping only which CID list each token went on),
    and every day known so far is rebuilt."""
    rebuild = rebuilding(ctx)
    run = RunLedger(ctx.run_dir / "ledger.sqlite")
    parts: list[DeltaPart] = []
    totals = dict.fromkeys(("tokens_seen", "new_tokens", "collisions", "swaps"), 0)
    for k, (batch, reasons) in enumerate(zip(elig.batches, elig.reasons, strict=True)):
        part, counts = _merge_batch(ctx, k, (batch, reasons), rebuild, run, bool(parts))
        for name, n in counts.items():
            totals[name] += n
        if part is not None:
            parts.append(part)
    dirty = {d for p in parts for d in p.dirty_days}
    if rebuild:
        dirty |= set(ctx.store.days())
    return LedgerDelta(
        parts=tuple(parts), ledger=run.path, dirty_days=tuple(sorted(dirty)),
        **totals,
    )  # fmt: skip


def _merge_batch(
    ctx: RunContext, k: int, staged: tuple[str, str], rebuild: bool, run: RunLedger,
    after: bool,
) -> tuple[DeltaPart | None, dict[str, int]]:  # fmt: skip
    """Batch ``k`` (``staged``: its normalized rows and eligibility) merged: its part of
    the delta (None when it holds no candidates), and its counts. Its changed rows go into
    the run's ledger (``run``) too; ``after``: batches before it changed rows there."""
    batch, reasons = staged
    out: dict[str, Any] = {}
    tally = dict.fromkeys(("tokens_seen", "new_tokens", "collisions", "swaps"), 0)
    judged = read_table(reasons)
    # Work on the key columns only; whole rows are taken once, for new winners.
    keys = read_table(batch, columns=[TOKEN, SURVEY, START, RECORDED, "ResponseId"])
    keys = keys.take(judged.column("_pos")).append_column("_reason", judged.column("_reason"))
    cand_pos = np.flatnonzero(coll.candidate_rows(keys.column(TOKEN), keys.column(SURVEY)))
    if not len(cand_pos):
        return None, tally
    cands = keys.take(pa.array(cand_pos))
    c_start, c_rec = to_numpy(cands.column(START)), to_numpy(cands.column(RECORDED))
    tz, hour = ctx.cfg.timezone, ctx.cfg.rules.cutoff_hour
    won = coll.token_winners(
        cands.column(TOKEN), c_start, c_rec, cands.column("ResponseId"), tz, hour
    )
    best = cands.take(pa.array(won.rows))
    tally["tokens_seen"] = best.num_rows
    tally["collisions"] = cands.num_rows - best.num_rows
    tokens = best.column(TOKEN).combine_chunks()
    b_id = best.column("ResponseId").combine_chunks()
    b_start, b_rec = c_start[won.rows], c_rec[won.rows]
    b_day = _iso(won.day)

    old, have_old = _aligned_ledger(ctx, tokens, rebuild, run if after else None)
    o_id = old.column("response_id")
    o_start, o_rec = to_numpy(old.column("start"), 0), to_numpy(old.column("recorded"), 0)
    same_id = to_numpy(pc.equal(b_id, o_id), False)
    wins = coll.beats(b_start, b_rec, to_numpy(b_id), o_start, o_rec, to_numpy(o_id, ""))
    refreshed = same_id & (b_rec > o_rec)  # a newer copy of the winner itself
    winner_changed = ~have_old | wins | refreshed
    tally["new_tokens"] = int((~have_old).sum())
    tally["swaps"] = int((have_old & wins & ~same_id).sum())
    tally["collisions"] += int((have_old & ~wins & ~same_id).sum())
    # The on-time day only ever moves earlier.
    n_oday, o_oday = _iso(won.on_time_day), old.column("on_time_day")
    earlier = pc.fill_null(pc.less_equal(o_oday, n_oday), False)
    keep_old = pc.or_(pc.is_null(n_oday), pc.and_(pc.is_valid(o_oday), earlier))
    on_time_day = pc.if_else(keep_old, o_oday, n_oday)
    on_time_changed = to_numpy(
        pc.not_equal(pc.fill_null(o_oday, ""), pc.fill_null(on_time_day, ""))
    )
    changed = winner_changed | on_time_changed
    wc = pa.array(winner_changed)
    reason = best.column("_reason").combine_chunks()
    rows = pa.table({
        "token": tokens,
        "response_id": pc.if_else(wc, b_id, o_id),
        "start": pa.array(np.where(winner_changed, b_start, o_start)),
        "recorded": pa.array(np.where(winner_changed, b_rec, o_rec)),
        "day": pc.if_else(wc, b_day, old.column("day")),
        "eligible": pc.if_else(wc, pc.is_null(reason), pc.fill_null(old.column("eligible"), False)),
        "reason": pc.if_else(wc, reason, old.column("reason")),
        "on_time_day": on_time_day,
        "cid_day": old.column("cid_day"),
        "old_day": pc.if_else(pa.array(have_old & winner_changed), old.column("day"), None),
        "winner_changed": wc,
    })  # fmt: skip
    rows = rows.append_column(
        "cid_pending",
        pc.and_(pc.is_valid(rows.column("on_time_day")), pc.is_null(old.column("cid_day"))),
    )
    rows = rows.filter(pa.array(changed))
    # dirty: the new day of changed winners, the old day of moved ones and of tokens whose
    # winner stayed but whose on-time day changed
    old_side = pa.array((have_old & winner_changed) | (changed & ~winner_changed))
    old_days = pc.unique(old.column("day").filter(old_side).drop_null()).to_pylist()
    new_days = [str(d) for d in np.unique(won.day[changed & winner_changed])]
    out["dirty_days"] = tuple(sorted(set(new_days) | set(old_days)))
    run.put(bulk.key_sorted(rows.select(list(LEDGER_TYPES)), "token"))
    out["rows"] = write_frame(rows, ctx.run_dir / f"ledger_delta-{k:04d}.arrow")
    fresh = np.flatnonzero(winner_changed & changed & to_numpy(pc.is_null(reason)))
    # The new winners ordered by day and publication order: each day's are then one slice
    # of the positions, taken already sorted for rendering.
    day_codes, day_names = pd.factorize(to_numpy(b_day)[fresh], sort=True)  # ~30 distinct days
    order_keys = pa.table({
        "day": pa.array(day_codes), "start": pa.array(b_start[fresh]),
        "recorded": pa.array(b_rec[fresh]), "rid": b_id.take(pa.array(fresh)),
    })  # fmt: skip
    sort_keys = [(c, "ascending") for c in order_keys.column_names]
    order = pc.sort_indices(order_keys, sort_keys=sort_keys).to_numpy()
    positions = to_numpy(judged.column("_pos"))[cand_pos[won.rows[fresh]]][order]
    counts = np.bincount(day_codes, minlength=len(day_names))
    offsets = np.cumsum(counts) - counts  # each day's first position (none: no days)
    out["winner_slices"] = {
        str(d): (int(o), int(c)) for d, o, c in zip(day_names, offsets, counts, strict=True)
    }
    target = ctx.run_dir / f"winner-positions-{k:04d}.arrow"
    picked = pa.array(fresh[order])
    write_frame(
        pa.table({"_pos": pa.array(positions, pa.int64()),
                  ON_TIME: pc.is_valid(on_time_day).take(picked)}),
        target,
    )  # fmt: skip
    out["winners"] = str(target)
    return DeltaPart(batch=batch, **out), tally
