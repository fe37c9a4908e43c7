"""The stages of a nightly panel run, as plain functions (the Dagster assets call these).

Each stage reads the state database (never writes it) and stages its output under the
run's work folder; the last stage publishes and commits everything in one transaction,
so a crash anywhere leaves the ledger and the record of published files untouched.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import gzmembers
from pipeline.checks import CHECK_COLUMNS
from pipeline.config import Config
from pipeline.context import RunContext
from pipeline.csvfmt import to_csv_bytes
from pipeline.days import last_closed_day
from pipeline.fetching import (
    FetchResult,
    FileStatus,
    InputFile,
    Layout,
    Quarantined,
    fetch_inputs,
    new_input,
    source_has_new,
)
from pipeline.locations import RemoteFile
from pipeline.panel import collisions as coll
from pipeline.panel.columns import merge_layouts, question_columns
from pipeline.panel.eligibility import count_reasons, exclusion_reasons
from pipeline.panel.names import WEIGHTS_RE
from pipeline.panel.output import day_table, publication_order, store_columns
from pipeline.panel.qualtrics import (
    END,
    RECORDED,
    START,
    SURVEY,
    TOKEN,
    WAVE,
    ExportError,
    ParsedExport,
    decompress,
    parse_export,
)
from pipeline.panel.settings import (
    LEDGER_PARTS,
    RENDER_PARTS,
    describe_change,
    file_sha256,
    key,
    ledger_settings,
    render_settings,
)
from pipeline.panel.weights import read_weights
from pipeline.staging import read_table, table_columns, write_frame
from pipeline.state import schema
from pipeline.state.bulk import sqlite_tables
from pipeline.state.store import StateStore

EXPORT_SUFFIXES = (".csv", ".csv.gz")
# Arrow types of the ledger's columns, in table order (from pipeline/state/schema.py).
LEDGER_TYPES = {
    str(c.name): {bool: pa.bool_(), int: pa.int64(), str: pa.string()}[c.type.python_type]
    for c in schema.ledger.columns
}
UNKNOWN_WAVE_KEY = 1e9
# Day-store flag: the token is on time (weight-eligible, SPEC §3.5). The ledger's
# ``on_time_day`` is the same concept: the first day it became so.
ON_TIME = "_on_time"
RENDER_THREADS = 2
RENDER_ROWS = 50_000  # rows formatted at a time when a day is rendered
TAKE_GROUP = 4  # columns per memory map when build_days takes new winners from the batch


# --- stage 1: fetch ----------------------------------------------------------------------
def is_export(path: str) -> bool:
    """Panel exports in the drop: ``*.csv`` and ``*.csv.gz``."""
    return path.lower().endswith(EXPORT_SUFFIXES)


def will_check(cfg: Config, as_of: datetime) -> bool:
    """Whether a nightly run at ``as_of`` will run data checks: the source holds exports
    the state does not know, or the clock closes a day not rendered yet (a night with no
    new data still renders its new, empty day). A hint for keeping the checker started early;
    False when the state cannot be read (the run then reports why)."""
    try:
        store = StateStore(cfg.state)  # one store for both questions
    except Exception:  # noqa: BLE001 - a hint, not the run's own check
        return False
    try:
        if source_has_new(cfg, is_export, store):
            return True
        rendered = [d for d, row in store.days().items() if row.get("csv_sha")]
    except Exception:  # noqa: BLE001
        return False
    finally:
        store.dispose()
    closed = last_closed_day(as_of, cfg.timezone, cfg.rules.cutoff_hour).isoformat()
    return bool(rendered) and closed > max(rendered)


def rebuilding(ctx: RunContext) -> bool:
    """Whether this run rebuilds the ledger and the day stores from the raw archive: asked
    for (``python -m pipeline rebuild``), or the settings they were built with changed (a
    rule, the wave table, a new store layout; see :mod:`pipeline.panel.settings`)."""
    if ctx.rebuild:
        return True
    built = ctx.store.settings()
    if key(built, LEDGER_PARTS) == key(ledger_settings(ctx.cfg), LEDGER_PARTS):
        return False
    return ctx.store.has_ledger()  # a new study has nothing to rebuild


def fetch_exports(
    ctx: RunContext,
    on_new: Callable[[list[RemoteFile]], object] | None = None,
    rebuild: bool = False,
) -> FetchResult:
    """New or changed exports (``*.csv``, ``*.csv.gz``) archived, and what to parse; see
    :func:`pipeline.fetching.fetch_inputs`."""
    return fetch_inputs(ctx, is_export, "export", on_new=on_new, rebuild=rebuild)


# --- stage 2: normalise ------------------------------------------------------------------
@dataclass(frozen=True)
class NormalizeResult:
    """Parsed exports staged as one Arrow batch (a file in the run folder)."""

    batch: str | None = None
    rows_in: int = 0
    deferred: int = 0
    quarantined: tuple[Quarantined, ...] = ()
    file_status: Mapping[str, FileStatus] = field(default_factory=dict)  # by content hash
    unknown_waves: int = 0


def normalize_exports(ctx: RunContext, fetch: FetchResult) -> NormalizeResult:
    """Parse every file to process; quarantine malformed ones, keep going with the rest."""
    tables: list[pa.Table] = []
    quarantined: list[Quarantined] = []
    status: dict[str, FileStatus] = {}
    rows_in = deferred = unknown_waves = 0
    as_of = int(ctx.as_of.timestamp())

    def parse(item: tuple[str, str]) -> ParsedExport | ExportError:
        sha, path = item
        data = ctx.archive.get(sha)
        try:
            return parse_export(decompress(data, path), path, ctx.cfg.waves, ctx.cfg.max_cell_chars)
        except ExportError as exc:
            return exc

    # Arrow's CSV reader and the timestamp kernels release the GIL: two files at a time.
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        results = list(pool.map(parse, fetch.to_parse))
    for (sha, path), parsed in zip(fetch.to_parse, results, strict=True):
        if isinstance(parsed, ExportError):
            exc = parsed
            kept = ctx.archive.quarantine(sha, path, str(exc))
            quarantined.append(Quarantined(path, sha, str(exc), str(kept)))
            status[sha] = FileStatus("quarantined", error=str(exc))
            continue
        table = parsed.table
        if not table.num_rows:  # header rows only: nothing to add (not even its columns)
            status[sha] = FileStatus("applied", rows=0)
            continue
        late = pc.greater(table.column(RECORDED), as_of)
        n_late = pc.sum(late).as_py() or 0
        deferred += n_late
        if n_late:
            table = table.filter(pc.invert(late))
        waves = tuple(sorted({w for w in parsed.waves if w is not None}))
        layout = Layout(
            key=float(min(waves)) if waves else UNKNOWN_WAVE_KEY,
            waves=waves,
            columns=tuple(question_columns(parsed.columns, ctx.cfg.rules.consent_column)),
            questions=parsed.questions,
        )
        status[sha] = FileStatus(
            "pending" if n_late else "applied", rows=int(parsed.table.num_rows), layout=layout
        )
        rows_in += table.num_rows
        unknown = pc.and_(pc.is_valid(table.column(SURVEY)), pc.is_null(table.column(WAVE)))
        unknown_waves += pc.sum(unknown).as_py() or 0
        tables.append(table)
    batch = None
    if tables:
        target = ctx.run_dir / "normalized.arrow"
        write_frame(pa.concat_tables(tables, promote_options="default"), target)
        batch = str(target)
    return NormalizeResult(batch, rows_in, deferred, tuple(quarantined), status, unknown_waves)


# --- stage 3: eligibility ----------------------------------------------------------------
@dataclass(frozen=True)
class EligibilityResult:
    """One copy per ResponseId (positions in the normalized batch) with its exclusion reason."""

    batch: str | None = None  # the normalized batch
    reasons: str | None = None  # frame of _pos (row in batch) and _reason, de-duplicated
    responses: int = 0
    eligible: int = 0
    excluded: Mapping[str, int] = field(  # responses per exclusion reason (every reason)
        default_factory=lambda: count_reasons(pd.Series([], dtype="string"))
    )
    duplicates: int = 0


def apply_eligibility(ctx: RunContext, norm: NormalizeResult) -> EligibilityResult:
    """De-duplicate by ResponseId and give every response its first failed rule (or none)."""
    if norm.batch is None:
        return EligibilityResult()
    table = read_table(norm.batch)
    # Reasons are per row, so they are computed on the batch as is (no wide copy), while
    # a side thread finds the copies to keep (both mostly Arrow work outside the GIL).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dedupe") as side:
        kept = side.submit(
            coll.dedupe_rows, table.column("ResponseId"), _numpy(table.column(RECORDED))
        )
        every = exclusion_reasons(table, ctx.cfg.rules)
        pos = kept.result()
    reasons = every.take(pos).reset_index(drop=True)
    target = ctx.run_dir / "eligibility.arrow"
    write_frame(pd.DataFrame({"_pos": pos, "_reason": reasons}), target)
    return EligibilityResult(
        batch=norm.batch, reasons=str(target), responses=len(pos),
        eligible=int(reasons.isna().sum()), excluded=count_reasons(reasons),
        duplicates=table.num_rows - len(pos),
    )  # fmt: skip


# --- stage 4: collisions -----------------------------------------------------------------
@dataclass(frozen=True)
class LedgerDelta:
    """Changed ledger rows and where the new winners' rows are, staged as Arrow files."""

    rows: str | None = None  # changed ledger rows (+ old_day, winner_changed)
    # New eligible winners, by day and in publication order: their positions in the
    # normalized batch (``_pos``) and on-time flags; build_days takes their rows from the
    # batch (the wide rows are written once, as day stores).
    winners: str | None = None
    winner_slices: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # offset, n
    tokens_seen: int = 0
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


def _numpy(values: pa.Array | pa.ChunkedArray, fill: Any = None) -> np.ndarray:
    if fill is not None:
        values = pc.fill_null(values, fill)
    return values.to_numpy(zero_copy_only=False)


def _aligned_ledger(ctx: RunContext, tokens: pa.Array) -> tuple[pa.Table, np.ndarray]:
    """The stored ledger rows of ``tokens``, aligned with them (nulls where a token is new),
    and which tokens were known."""
    old = ctx.store.ledger_rows(_numpy(tokens))
    names = list(LEDGER_TYPES)
    if old.empty:
        table = pa.table({c: pa.nulls(len(tokens), LEDGER_TYPES[c]) for c in names})
        return table, np.zeros(len(tokens), dtype=bool)
    # SQLite hands booleans back as 0/1: build each column untyped, then cast.
    stored = pa.table(
        {c: pa.array(old[c].to_numpy(dtype=object), from_pandas=True).cast(LEDGER_TYPES[c])
         for c in names}
    )  # fmt: skip
    idx = pc.index_in(tokens, value_set=stored.column("token"))
    return stored.take(idx), _numpy(pc.is_valid(idx))


def resolve_collisions(ctx: RunContext, elig: EligibilityResult) -> LedgerDelta:
    """Merge the batch into the ledger: earliest start wins per token, for all time.

    A rebuild starts from an empty ledger (keeping only which CID list each token went on),
    and every day known so far is rebuilt."""
    rebuild = rebuilding(ctx)
    res = _merge_into_ledger(ctx, elig, rebuild)
    if rebuild:
        res = replace(res, dirty_days=tuple(sorted(set(res.dirty_days) | set(ctx.store.days()))))
    return res


def _merge_into_ledger(ctx: RunContext, elig: EligibilityResult, rebuild: bool) -> LedgerDelta:
    out: dict[str, Any] = {}
    if elig.batch is None:
        return LedgerDelta()
    judged = read_table(elig.reasons)
    # Work on the key columns only; whole rows are taken once, for new winners.
    keys = read_table(elig.batch, columns=[TOKEN, SURVEY, START, RECORDED, "ResponseId"])
    keys = keys.take(judged.column("_pos")).append_column("_reason", judged.column("_reason"))
    cand_pos = np.flatnonzero(coll.candidate_rows(keys.column(TOKEN), keys.column(SURVEY)))
    if not len(cand_pos):
        return LedgerDelta()
    cands = keys.take(pa.array(cand_pos))
    c_start, c_rec = _numpy(cands.column(START)), _numpy(cands.column(RECORDED))
    tz, hour = ctx.cfg.timezone, ctx.cfg.rules.cutoff_hour
    won = coll.token_winners(
        cands.column(TOKEN), c_start, c_rec, cands.column("ResponseId"), tz, hour
    )
    best = cands.take(pa.array(won.rows))
    out["tokens_seen"] = best.num_rows
    out["collisions"] = cands.num_rows - best.num_rows
    tokens = best.column(TOKEN).combine_chunks()
    b_id = best.column("ResponseId").combine_chunks()
    b_start, b_rec = c_start[won.rows], c_rec[won.rows]
    b_day = _iso(won.day)

    old, have_old = _aligned_ledger(ctx, tokens)
    if rebuild:  # what was sent to the weighting partner is history, not derived state
        blank = {c: pa.nulls(len(tokens), LEDGER_TYPES[c]) for c in LEDGER_TYPES}
        old = pa.table({**blank, "cid_day": old.column("cid_day")})
        have_old = np.zeros(len(tokens), dtype=bool)
    o_id = old.column("response_id")
    o_start, o_rec = _numpy(old.column("start"), 0), _numpy(old.column("recorded"), 0)
    same_id = _numpy(pc.equal(b_id, o_id), False)
    wins = coll.beats(b_start, b_rec, _numpy(b_id), o_start, o_rec, _numpy(o_id, ""))
    refreshed = same_id & (b_rec > o_rec)  # a newer copy of the winner itself
    winner_changed = ~have_old | wins | refreshed
    out["new_tokens"] = int((~have_old).sum())
    out["swaps"] = int((have_old & wins & ~same_id).sum())
    out["collisions"] += int((have_old & ~wins & ~same_id).sum())
    # The on-time day only ever moves earlier.
    n_oday, o_oday = _iso(won.on_time_day), old.column("on_time_day")
    earlier = pc.fill_null(pc.less_equal(o_oday, n_oday), False)
    keep_old = pc.or_(pc.is_null(n_oday), pc.and_(pc.is_valid(o_oday), earlier))
    on_time_day = pc.if_else(keep_old, o_oday, n_oday)
    on_time_changed = _numpy(pc.not_equal(pc.fill_null(o_oday, ""), pc.fill_null(on_time_day, "")))
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
    target = ctx.run_dir / "ledger_delta.arrow"
    write_frame(rows, target)
    out["rows"] = str(target)
    fresh = np.flatnonzero(winner_changed & changed & _numpy(pc.is_null(reason)))
    # The new winners ordered by day and publication order: each day's are then one slice
    # of the positions, taken already sorted for rendering.
    day_codes, day_names = pd.factorize(_numpy(b_day)[fresh], sort=True)  # ~30 distinct days
    order_keys = pa.table({
        "day": pa.array(day_codes), "start": pa.array(b_start[fresh]),
        "recorded": pa.array(b_rec[fresh]), "rid": b_id.take(pa.array(fresh)),
    })  # fmt: skip
    sort_keys = [(c, "ascending") for c in order_keys.column_names]
    order = pc.sort_indices(order_keys, sort_keys=sort_keys).to_numpy()
    positions = _numpy(judged.column("_pos"))[cand_pos[won.rows[fresh]]][order]
    counts = np.bincount(day_codes, minlength=len(day_names))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out["winner_slices"] = {
        str(d): (int(o), int(c)) for d, o, c in zip(day_names, offsets, counts, strict=True)
    }
    target = ctx.run_dir / "winner-positions.arrow"
    picked = pa.array(fresh[order])
    write_frame(
        pa.table({"_pos": pa.array(positions, pa.int64()),
                  ON_TIME: pc.is_valid(on_time_day).take(picked)}),
        target,
    )  # fmt: skip
    out["winners"] = str(target)
    return LedgerDelta(**out)


def _take_rows(path: str, columns: list[str], rows: np.ndarray) -> pa.Table:
    """``columns`` of the staged table at ``path``, rows ``rows``.

    A few columns at a time, two groups at once (the take kernels release the GIL), each
    group mapped and unmapped on its own: one map of the whole batch kept every page of it
    resident while the (almost as large) result was built.
    """
    picked = pa.array(np.asarray(rows, dtype="int64"))
    groups = [columns[i : i + TAKE_GROUP] for i in range(0, len(columns), TAKE_GROUP)]

    def take(group: list[str]) -> list[pa.ChunkedArray]:
        part = read_table(path, group)
        return [part.column(c).take(picked) for c in group]

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="take") as pool:
        taken = [col for cols in pool.map(take, groups) for col in cols]
    return pa.table(taken, names=columns)


# --- stage 5: lag policy -----------------------------------------------------------------
@dataclass(frozen=True)
class LagResult:
    """Weights that changed, CID lists due, and the last day whose cut-off has passed."""

    last_closed: str = ""
    rebuild: bool = False  # ledger, weights and day stores rebuilt from the archive
    # new or better weights (an Arrow file of cid, weight, file; every weight in a rebuild)
    weights: str | None = None
    weight_count: int = 0
    weight_files: tuple[InputFile, ...] = ()
    weight_days: tuple[str, ...] = ()
    # CID lists due: their tokens (an Arrow file of day, token, sorted by both) and the
    # number of tokens per list (every list due, empty ones too)
    cid_lists: str | None = None
    cid_counts: Mapping[str, int] = field(default_factory=dict)
    quarantined: tuple[Quarantined, ...] = ()

    def cid_list_tokens(self) -> dict[str, list[str]]:
        """Each due list's tokens, sorted, by day (the file's content, read once)."""
        if self.cid_lists is None:
            return {}
        tokens = read_table(self.cid_lists, columns=["token"]).column("token").to_pylist()
        out, at = {}, 0
        for day, n in sorted(self.cid_counts.items()):
            out[day], at = tokens[at : at + n], at + n
        return out


class ClockGapError(RuntimeError):
    """The run's clock is too far past the newest input to publish the days in between."""


def check_clock_gap(ctx: RunContext, delta: LedgerDelta, last_closed: date) -> None:
    """Refuse a clock more than ``max_gap_days`` past the newest `for` day with responses
    (SPEC §6): it would publish that many empty days, and DELAY entries that stay forever."""
    stored = [d for d, row in ctx.store.days().items() if row.get("store")]
    newest = max([*stored, *delta.dirty_days], default=None)
    if newest is None:
        return
    gap = (last_closed - date.fromisoformat(newest)).days
    if gap > ctx.cfg.max_gap_days:
        raise ClockGapError(
            f"the run's clock ({ctx.as_of.isoformat()}) closes {last_closed}, {gap} days after "
            f"the newest responses ({newest}); max_gap_days is {ctx.cfg.max_gap_days}. "
            "Refusing to publish the empty days in between: pass --as-of with the intended "
            "clock, or raise max_gap_days if the drop really was empty that long"
        )


def apply_lag_policy(ctx: RunContext, delta: LedgerDelta) -> LagResult:
    """Cut-offs, new weights (first file by name wins) and the CID lists now due."""
    check_clock_gap(ctx, delta, ctx.last_closed)
    last_closed, rebuild = ctx.last_closed.isoformat(), rebuilding(ctx)
    # The two are independent and mostly Arrow work outside the GIL: side by side.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="weights") as side:
        found = side.submit(_load_weights, ctx, rebuild) if ctx.cfg.weights else None
        cid_lists, cid_counts = _due_cid_lists(ctx, delta, last_closed, rebuild)
        weights = found.result() if found is not None else WeightsFound()
    weights_file = None
    if weights.rows is not None:
        weights_file = str(ctx.run_dir / "weights.arrow")
        write_frame(weights.rows, weights_file)
    return LagResult(
        last_closed=last_closed, rebuild=rebuild, weights=weights_file,
        weight_count=weights.rows.num_rows if weights.rows is not None else 0,
        weight_files=weights.files, weight_days=weights.days,
        cid_lists=cid_lists, cid_counts=cid_counts, quarantined=weights.quarantined,
    )  # fmt: skip


def _weights_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class WeightsFound:
    """What the weights source brought: changed weights, their files and days, bad files."""

    rows: pa.Table | None = None  # cid, weight, file
    files: tuple[InputFile, ...] = ()
    days: tuple[str, ...] = ()
    quarantined: tuple[Quarantined, ...] = ()


def _load_weights(ctx: RunContext, rebuild: bool) -> WeightsFound:
    """Weights of new weight files; in a rebuild, of every archived one too."""
    found: list[tuple[str, bytes, InputFile | None]] = []  # path, bytes, new file's record
    if ctx.fetch_source:
        loc = ctx.open(ctx.cfg.weights)
        try:
            known = ctx.store.known_files(ctx.cfg.weights)
            for f in loc.list_files():
                if WEIGHTS_RE.match(_weights_name(f.path)) and (
                    (f.path, f.size, float(f.mtime)) not in known
                ):
                    data = loc.read_bytes(f.path)
                    sha = ctx.archive.put(data)
                    found.append((f.path, data, new_input(ctx, ctx.cfg.weights, f, sha, "weights")))
        finally:
            loc.close()
    if rebuild:
        found += [(f["path"], ctx.archive.get(f["sha256"]), None)
                  for f in ctx.store.input_files("weights")]  # fmt: skip
    files: list[InputFile] = []
    quarantined: list[Quarantined] = []
    tables: list[pa.Table] = []
    for path, data, row in sorted(found, key=lambda item: _weights_name(item[0])):
        name = _weights_name(path)
        try:
            rows = read_weights(data, path)
        except ExportError as exc:
            sha = hashlib.sha256(data).hexdigest()
            ctx.archive.quarantine(sha, path, str(exc))
            quarantined.append(Quarantined(path, sha, str(exc)))
            if row is not None:
                files.append(replace(row, status="quarantined", error=str(exc)))
            continue
        if row is not None:
            files.append(replace(row, status="applied", rows=rows.num_rows))
        tables.append(rows.append_column("file", pa.array([name] * rows.num_rows, pa.string())))
    if not tables or not sum(t.num_rows for t in tables):
        return WeightsFound(files=tuple(files), quarantined=tuple(quarantined))
    # first file by name wins: the files are in name order, so each cid's first row
    best = coll.first_rows(pa.concat_tables(tables), "cid")
    if not rebuild:
        current = ctx.store.weights_for(best.column("cid").to_pylist())
        # keep a new weight unless the stored one comes from an earlier (or the same) file
        idx = pc.index_in(best.column("cid"), value_set=current.column("cid"))
        stored_file = pc.take(current.column("file"), idx)
        better = pc.fill_null(pc.less(best.column("file"), stored_file), True)
        best = best.filter(better)
    # a rebuild renders every day anyway: no need to read the ledger it replaces
    cids = best.column("cid").to_pylist()
    days = () if rebuild or not cids else tuple(sorted(set(ctx.store.ledger_rows(cids)["day"])))
    return WeightsFound(
        rows=best if best.num_rows else None, files=tuple(files), days=days,
        quarantined=tuple(quarantined),
    )  # fmt: skip


def _due_cid_lists(
    ctx: RunContext, delta: LedgerDelta, last_closed: str, rebuild: bool
) -> tuple[str | None, dict[str, int]]:
    """Tokens newly on time (weight-eligible), by the list (day) they go on; each day's list
    once. Returns the lists' file (see :class:`LagResult`) and their sizes. In a rebuild the
    delta holds every token, so the stored ledger is not read."""
    listed = ctx.store.cid_list_days()
    first = ctx.first_day(delta)
    if first is None or first > last_closed:
        return None, {}
    due = [
        d.isoformat()
        for d in day_range(date.fromisoformat(first), date.fromisoformat(last_closed))
        if d.isoformat() not in listed
    ]
    if not due:
        return None, {}
    stored = pd.DataFrame(columns=["token", "on_time_day"]) if rebuild else ctx.store.cid_pending()
    pending = pa.table({
        "token": pa.array(stored["token"], pa.string()),
        "on_time_day": pa.array(stored["on_time_day"], pa.string()),
    })  # fmt: skip
    if delta.rows:
        d = read_table(delta.rows, columns=["token", "on_time_day", "cid_pending"])
        if pending.num_rows:
            pending = pending.filter(
                pc.invert(pc.is_in(pending.column("token"), value_set=d.column("token")))
            )
        d = d.filter(d.column("cid_pending")).select(["token", "on_time_day"])
        pending = pa.concat_tables([pending, d.cast(pending.schema)])
    closed = pending.filter(pc.less_equal(pending.column("on_time_day"), last_closed))
    # A token whose own day was listed already (late data) goes on the newest list due.
    own = closed.column("on_time_day")
    day = pc.if_else(pc.is_in(own, value_set=pa.array(due, pa.string())), own, due[-1])
    lists = pa.table({"day": day, "token": closed.column("token")}).sort_by(
        [("day", "ascending"), ("token", "ascending")]
    )
    counts = dict.fromkeys(due, 0)
    for row in pc.value_counts(lists.column("day")).to_pylist():
        counts[row["values"]] = row["counts"]
    target = ctx.run_dir / "cid_lists.arrow"
    write_frame(lists, target)
    return str(target), counts


def day_range(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last``, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- stage 6: day partitions -------------------------------------------------------------
@dataclass(frozen=True)
class DayStore:
    """A day's stored winners (as parsed), a file under the work folder (None: no winners)."""

    store: str | None
    rows: int


@dataclass(frozen=True)
class RenderedDay:
    """A day rendered for publication."""

    csv_sha: str  # the CSV's bytes are in the run's cache under this hash
    rows: int
    withheld: int  # eligible winners not published (no weight yet; without weights: late)
    store: str | None
    check: str  # the day's check columns (an Arrow file for the data checks)
    render_key: str  # what shaped its values (see pipeline.panel.settings)
    header: tuple[str, ...]


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
    run_rows: RunRows | None = None  # the state rows the run commits


@dataclass(frozen=True)
class RunRows:
    """The state rows a run commits, prepared while its days render: Arrow files in the
    run folder or, on SQLite, for the large ones, a SQLite file the commit attaches
    (``StateStore.stage``)."""

    ledger: str | None = None  # full rows of changed tokens, this run's CID lists applied
    # (None when there are none, or when they are all in ``staged``)
    cid_listed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # others listed
    weights: str | None = None  # new weights: cid, weight, file
    staged: str | None = None


LEDGER_COLUMNS = list(LEDGER_TYPES)


def ledger_changes(
    delta: LedgerDelta, lag: LagResult
) -> tuple[pa.Table | None, dict[str, tuple[str, ...]]]:
    """The delta's ledger rows with this run's CID lists applied, and the other tokens (not
    in the delta) that went on a CID list, by day."""
    empty = pa.table({"day": pa.array([], pa.string()), "token": pa.array([], pa.string())})
    listed = read_table(lag.cid_lists) if lag.cid_lists else empty
    ledger = None
    if delta.rows:
        ledger = read_table(delta.rows, columns=LEDGER_COLUMNS)
        # tokens of this run's delta go on their CID list inside the upsert itself
        idx = pc.index_in(ledger.column("token"), value_set=listed.column("token"))
        hit = pc.is_valid(idx)
        if pc.any(hit).as_py():
            cid_day = pc.if_else(hit, listed.column("day").take(idx), ledger.column("cid_day"))
            pending = pc.and_(ledger.column("cid_pending"), pc.invert(hit))
            ledger = ledger.set_column(LEDGER_COLUMNS.index("cid_day"), "cid_day", cid_day)
            ledger = ledger.set_column(LEDGER_COLUMNS.index("cid_pending"), "cid_pending", pending)
            # the listed tokens the delta took care of (each listed once: positions suffice)
            taken = np.zeros(listed.num_rows, dtype=bool)
            taken[idx.filter(hit).to_numpy()] = True
            listed = listed.filter(pa.array(~taken))
    by_day: dict[str, list[str]] = {}
    for t, day in zip(
        listed.column("token").to_pylist(), listed.column("day").to_pylist(), strict=True
    ):
        by_day.setdefault(day, []).append(t)
    return ledger, {day: tuple(tokens) for day, tokens in by_day.items()}


def prepare_run_rows(
    ctx: RunContext, delta: LedgerDelta, lag: LagResult, stage: bool = True
) -> RunRows:
    """The run's ledger rows (:func:`ledger_changes`) and weights as Arrow files; with
    ``stage``, large ones staged for the commit instead (SQLite; see :class:`RunRows`):
    the commit copies staged rows and never reads their Arrow file, so none is written."""
    ledger, cid_listed = ledger_changes(delta, lag)
    staged = None
    if stage:
        weights = read_table(lag.weights) if lag.weights else None
        staged = ctx.store.stage({"ledger": ledger, "weights": weights}, ctx.run_dir)
    ledger_file = None
    if ledger is not None and (staged is None or "ledger" not in sqlite_tables(staged)):
        ledger_file = str(ctx.run_dir / "ledger-rows.arrow")
        write_frame(ledger, ledger_file)
    return RunRows(ledger_file, cid_listed, lag.weights, staged)


def build_days(
    ctx: RunContext, norm: NormalizeResult, delta: LedgerDelta, lag: LagResult
) -> DayBuild:
    """Rebuild the days the delta touches; render every closed day that must be (re)published:
    a day whose content changed, a day never rendered, and every day rendered under other
    settings (its render key differs) or rebuilt from the archive."""
    old_layouts = [Layout.from_json(doc) for doc in ctx.store.layouts()]
    layouts = (*old_layouts, *(s.layout for s in norm.file_status.values() if s.layout))
    old_q = merge_layouts([(lay.key, list(lay.columns)) for lay in old_layouts])
    questions = merge_layouts([(lay.key, list(lay.columns)) for lay in layouts])
    weights = read_table(lag.weights, columns=["cid", "weight"]) if lag.weights else None
    renderer = DayRenderer.for_run(ctx, questions, weights, lag.rebuild)
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
            if day in dirty or rekeyed or not known.get("csv_sha") or day in ctx.forced_days:
                to_render.append(day)
                if rekeyed:
                    rerendered.append(day)
    prepared = _DeltaByDay.load(ctx, delta, norm.batch)
    _ = ctx.zip_population  # loaded once, before the rendering threads share it
    due, touched = set(to_render), set(delta.dirty_days)

    def build(day: str) -> tuple[DayStore | None, RenderedDay | None]:
        """A day's new store (when the delta touches it), written while it renders from
        the table in memory, and its rendering (when it is due)."""
        store, rows = None, None
        if day in touched:
            known = None if lag.rebuild else day_rows.get(day)
            store, rows = _rebuild_store(ctx, day, known, prepared)
        if day not in due:
            return store, None
        path = store.store if store is not None else day_rows.get(day, {}).get("store")
        return store, renderer.render(day, path, rows)

    work = [*to_render, *(d for d in delta.dirty_days if d not in due)]
    # Days are built two at a time: most of a render is Arrow kernels and zlib, which
    # release the GIL, and a day's store is written while another day renders. Meanwhile
    # the state rows the run will commit are prepared and, when large, staged for the
    # commit (Arrow and SQLite work outside the GIL too): the publish step's commit then
    # only copies them.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-rows") as side:
        run_rows = side.submit(prepare_run_rows, ctx, delta, lag)
        with ThreadPoolExecutor(max_workers=RENDER_THREADS, thread_name_prefix="render") as pool:
            built = dict(zip(work, pool.map(build, work), strict=True))
    stores = {day: built[day][0] for day in delta.dirty_days}
    rendered = {day: built[day][1] for day in to_render}
    return DayBuild(
        questions=tuple(questions), schema_changed=bool(old_layouts) and old_q != questions,
        stores=stores, rendered=rendered, layouts=layouts, settings=renderer.settings,
        rerendered=tuple(rerendered),
        change=describe_change(ctx.store.settings(), renderer.settings,
                               (*LEDGER_PARTS, *RENDER_PARTS)),
        withheld=sum(r.withheld for r in rendered.values()),
        run_rows=run_rows.result(),
    )  # fmt: skip


EMPTY_STORE = pa.schema(
    [(TOKEN, pa.string()), ("ResponseId", pa.string()), (START, pa.int64()),
     (RECORDED, pa.int64()), (END, pa.int64()), (WAVE, pa.int64()), (ON_TIME, pa.bool_())]
)  # fmt: skip


def _read_store(ctx: RunContext, store: str | None) -> pa.Table:
    """A day's stored winners (an empty table when the day has none yet)."""
    if not store:
        return EMPTY_STORE.empty_table()
    return read_table(ctx.work / store)


def publishable(stored: pa.Table, weights: pa.Table | None, at: pa.Array | None = None) -> pa.Array:
    """Which of a day's stored (eligible, winning) responses are published (SPEC §3.5).

    With a weights source (``weights``: the ``cid`` and ``weight`` of the day's tokens that
    have one): exactly those whose token has a weight, however late they were recorded; the
    partner applied the cut-off when it made the weights. Without one (None): those on time
    (recorded by the cut-off of their day). ``at``: each row's position in ``weights``
    (``pc.index_in`` of the tokens), when the caller has it.
    """
    if weights is None:
        return stored.column(ON_TIME).combine_chunks()
    if at is not None:
        return pc.is_valid(at)
    known = weights.column("cid").combine_chunks()
    return pc.is_in(stored.column(TOKEN), value_set=known).combine_chunks()


NO_WEIGHTS = pa.table({"cid": pa.array([], pa.string()), "weight": pa.array([], pa.string())})


@dataclass
class DayRenderer:
    """Renders days from their stores: every value formatted now, under one render key."""

    ctx: RunContext
    questions: list[str]
    settings: dict[str, Any]
    render_key: str
    new_weights: pa.Table | None  # this run's weights: cid, weight (every one in a rebuild)
    stored_weights: bool = True  # also look up weights committed by earlier runs

    @classmethod
    def for_run(
        cls,
        ctx: RunContext,
        questions: Sequence[str],
        new_weights: pa.Table | None,
        rebuild: bool,
    ) -> DayRenderer:
        """The renderer of a run: the study's settings with ``questions`` as the header."""
        render = render_settings(ctx.cfg, questions, file_sha256(ctx.cfg.zip_population))
        settings = {**ledger_settings(ctx.cfg), **render}
        render_key = key(settings, RENDER_PARTS)
        assert render_key is not None
        return cls(ctx, list(questions), settings, render_key, new_weights, not rebuild)

    def weights(self, tokens: pa.Array | pa.ChunkedArray) -> pa.Table | None:
        """The ``cid`` and ``weight`` of those of ``tokens`` that have a weight (None when the
        study has no weights source); this run's weight wins over a stored one."""
        if not self.ctx.cfg.weights:
            return None
        if isinstance(tokens, pa.ChunkedArray):
            tokens = tokens.combine_chunks()
        new = self.new_weights if self.new_weights is not None else NO_WEIGHTS
        if len(tokens) * 2 >= new.num_rows:  # one hash table, of the smaller side
            at = pc.index_in(tokens, value_set=new.column("cid"))
            new, rest = new.take(at.drop_null()), pc.is_null(at)
        else:
            new = new.filter(pc.is_in(new.column("cid"), value_set=tokens))
            rest = pc.invert(pc.is_in(tokens, value_set=new.column("cid")))
        if not self.stored_weights:
            return new
        stored = self.ctx.store.weights_for(tokens.filter(rest).to_pylist())
        return pa.concat_tables([new, stored.select(["cid", "weight"])])

    def render(self, day: str, store: str | None, rows: pa.Table | None = None) -> RenderedDay:
        """Render one day: its CSV (cached by hash), counts and a frame for the checks.
        ``rows``: the content of ``store`` when the caller holds it (not read again)."""
        ctx = self.ctx
        stored = _read_store(ctx, store) if rows is None else rows
        weights = self.weights(stored.column(TOKEN))
        # Each row's position in ``weights`` (null: none), looked up once for the day; each
        # chunk then joins only its own rows' weights (one 280,000-cid hash table per
        # 50,000-row chunk cost 0.5 s on the reference fixture's largest day).
        at = None
        if weights is not None and stored.num_rows:
            at = pc.index_in(stored.column(TOKEN), value_set=weights.column("cid").combine_chunks())
        keep = publishable(stored, weights, at) if stored.num_rows else None
        positions = publication_order(stored, keep)  # None: every row, as stored
        n = stored.num_rows if positions is None else len(positions)

        # A large day is formatted in chunks, each taken from the store on its own (no copy
        # of the whole day): a chunk's formatted values are a few times its CSV bytes, so
        # memory stays bounded. A day of more than RENDER_ROWS rows is formatted two chunks
        # of a quarter of that at a time (on the x50 fixture's 280,000-row day: 40 MB less
        # at the peak than half-size chunks, no slower). Every value is formatted and quoted
        # on its own, so the bytes are those of the day formatted at once.
        size = RENDER_ROWS if n <= RENDER_ROWS else RENDER_ROWS // 4

        def chunk(offset: int) -> tuple[bytes, pa.Table, list[str]]:
            if positions is None:
                rows = stored.slice(offset, size)
                where = None if at is None else at.slice(offset, size)
            else:
                picked = pa.array(positions[offset : offset + size])
                rows = stored.take(picked)
                where = None if at is None else at.take(picked)
            own = weights if where is None or weights is None else weights.take(where.drop_null())
            table = day_table(
                rows, self.questions, own, ctx.cfg.rules, ctx.cfg.timezone, ctx.zip_population
            )
            csv = to_csv_bytes(table.drop_columns(["_token"]), header=not offset)
            return csv, table.select(CHECK_COLUMNS), table.column_names

        offsets = range(0, max(n, 1), size)
        if len(offsets) == 1:
            done = [chunk(0)]
        else:  # most of a chunk's work is Arrow kernels, which release the GIL
            with ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix=f"chunk-{day}") as pool:
                done = list(pool.map(chunk, offsets))
        parts = [csv for csv, _, _ in done]
        checks = [check for _, check, _ in done]
        header = tuple(c for c in done[-1][2] if c != "_token")
        del done
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        del parts
        sha = ctx.cache_csv(data)
        gzmembers.member(ctx, sha, data)  # for the cumulative file, compressed while we're here
        check = ctx.run_dir / "checks" / f"{day}.arrow"
        write_frame(pa.concat_tables(checks), check)
        return RenderedDay(
            csv_sha=sha,
            rows=n,
            withheld=stored.num_rows - n,
            store=store,
            check=str(check),
            render_key=self.render_key,
            header=header,
        )


@dataclass
class _DeltaByDay:
    """The ledger delta indexed once for all days (Arrow hash lookups, no Python loops)."""

    tokens: pa.Array  # every changed token
    on_time: pa.Array  # bool per token: on time (weight-eligible)
    same_winner: pa.Array  # tokens whose (eligible) winner did not change
    winners: pa.Table | None  # new winners as parsed, grouped by day, flagged
    slices: Mapping[str, tuple[int, int]]

    @classmethod
    def load(cls, ctx: RunContext, delta: LedgerDelta, batch: str | None) -> _DeltaByDay:
        """The delta, with its new winners' rows (day-store columns) taken from ``batch``,
        the normalized batch the delta was made from."""
        if not delta.rows:
            empty = pa.array([], pa.string())
            return cls(empty, pa.array([], pa.bool_()), empty, None, {})
        changes = read_table(delta.rows)
        tokens = changes.column("token").combine_chunks().cast(pa.string())
        on_time = pc.is_valid(changes.column("on_time_day")).combine_chunks()
        same = pc.and_(pc.invert(changes.column("winner_changed")), changes.column("eligible"))
        same_tokens = tokens.filter(same.combine_chunks())
        out = cls(tokens, on_time, same_tokens, None, delta.winner_slices)
        if delta.winners and batch:
            # One take of the wide rows for all days (a take from the chunked batch joins
            # each column's chunks first: once per day cost more than writing them out).
            staged = read_table(delta.winners)
            names = [c for c in table_columns(batch) if not c.startswith("_")]
            columns = store_columns(names, ctx.cfg.rules)
            rows = _take_rows(batch, columns, _numpy(staged["_pos"]))
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
    ctx: RunContext, day: str, known: dict[str, Any] | None, delta: _DeltaByDay
) -> tuple[DayStore, pa.Table | None]:
    """The day's new winner set: old rows of untouched tokens, old rows whose winner stayed
    (with a fresh on-time flag), and the new winners of that day, all as parsed; written
    as the day's new store, and returned too."""
    old = _read_store(ctx, (known or {}).get("store"))
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
        return DayStore(None, 0), None
    table = pa.concat_tables(parts, promote_options="default")
    rel = Path("days") / day / f"{ctx.run_id}.arrow"
    write_frame(table, ctx.work / rel)
    return DayStore(rel.as_posix(), int(table.num_rows)), table
