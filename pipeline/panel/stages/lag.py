"""Stage 5: the lag policy: the clock gap, new weights and the CID lists now due."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.clock import day_range
from pipeline.context import RunContext
from pipeline.fetching import (
    InputFile,
    Quarantined,
    new_input,
    set_aside,
)
from pipeline.panel.lag import cid_list_days, first_weights, improves
from pipeline.panel.names import WEIGHTS_RE
from pipeline.panel.qualtrics import (
    ExportError,
)
from pipeline.panel.settings import rebuilding
from pipeline.panel.stages.ledger import LedgerDelta
from pipeline.panel.weights import read_weights
from pipeline.staging import write_frame
from pipeline.state.run_ledger import RunLedger
from pipeline.unread import read_or_reason


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
    # CID lists due: their tokens (in the run ledger's file, see RunLedger) and the number
    # of tokens per list (every list due, empty ones too)
    cid_lists: str | None = None
    cid_counts: Mapping[str, int] = field(default_factory=dict)
    quarantined: tuple[Quarantined, ...] = ()

    def cid_list_tokens(self) -> Iterator[tuple[str, list[str]]]:
        """Each due list's day and tokens (sorted), one list at a time, in day order."""
        if self.cid_lists is None:
            return
        run = RunLedger(self.cid_lists)
        for day in sorted(self.cid_counts):
            yield day, run.cid_list(day)


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
    weights = _load_weights(ctx, rebuild) if ctx.cfg.weights else WeightsFound()
    cid_lists, cid_counts = _due_cid_lists(ctx, delta, last_closed, rebuild)
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
    skipped: list[Quarantined] = []  # files that could not be read (reported, not recorded)
    if ctx.fetch_source:
        loc = ctx.open(ctx.cfg.weights)
        try:
            known = ctx.store.known_files(ctx.cfg.weights)
            for f in loc.list_files():
                if WEIGHTS_RE.match(_weights_name(f.path)) and (
                    (f.path, f.size, float(f.mtime)) not in known
                ):
                    data, why = read_or_reason(loc, f.path)
                    if data is None:  # this file alone: skipped, tried again next run
                        skipped.append(Quarantined(f.path, "", why))
                        continue
                    sha = ctx.archive.put(data)
                    found.append((f.path, data, new_input(ctx, ctx.cfg.weights, f, sha, "weights")))
        finally:
            loc.close()
    if rebuild:
        found += [(f["path"], ctx.archive.get(f["sha256"]), None)
                  for f in ctx.store.input_files("weights")]  # fmt: skip
    files: list[InputFile] = []
    quarantined: list[Quarantined] = skipped
    tables: list[pa.Table] = []
    for path, data, row in sorted(found, key=lambda item: _weights_name(item[0])):
        name = _weights_name(path)
        try:
            rows = read_weights(data, path)
        except ExportError as exc:
            sha = hashlib.sha256(data).hexdigest()
            quarantined.append(set_aside(ctx, sha, path, exc))
            if row is not None:
                files.append(replace(row, status="quarantined", error=str(exc)))
            continue
        if row is not None:
            files.append(replace(row, status="applied", rows=rows.num_rows))
        tables.append(rows.append_column("file", pa.array([name] * rows.num_rows, pa.string())))
    if not tables or not sum(t.num_rows for t in tables):
        return WeightsFound(files=tuple(files), quarantined=tuple(quarantined))
    best = first_weights(tables)  # the files are in name order
    if not rebuild:
        best = best.filter(improves(best, ctx.store.weights_for(best.column("cid").to_pylist())))
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
    once. Returns the lists' file (the run ledger's, see :class:`LagResult`) and their sizes.
    In a rebuild the delta holds every token, so the stored ledger is not read."""
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
    run = RunLedger(delta.ledger)
    run.clear_cid_lists()
    if not rebuild:  # tokens of the state still waiting (those this run changed: below)
        stored = ctx.store.cid_pending()
        pending = pa.table({
            "token": pa.array(stored["token"], pa.string()),
            "on_time_day": pa.array(stored["on_time_day"], pa.string()),
        })  # fmt: skip
        if pending.num_rows:
            _rows, changed = run.aligned(pending.column("token").combine_chunks())
            run.add_cid_lists(cid_list_days(pending.filter(pc.invert(changed)), due, last_closed))
    # the tokens this run changed, their rows as they end, a block at a time
    for block in run.blocks(["token", "on_time_day"], where="cid_pending"):
        run.add_cid_lists(cid_list_days(block, due, last_closed))
    return run.path, {**dict.fromkeys(due, 0), **run.cid_counts()}
