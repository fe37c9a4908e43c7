"""Rendering a day from its store: every value formatted now, under one render key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import gzmembers
from pipeline.checks import CHECK_COLUMNS
from pipeline.context import RunContext, read_work_file
from pipeline.csvfmt import to_csv_bytes
from pipeline.panel.lag import ON_TIME, publishable
from pipeline.panel.output import day_table, publication_order
from pipeline.panel.qualtrics import (
    END,
    RECORDED,
    START,
    TOKEN,
    WAVE,
)
from pipeline.panel.settings import (
    RENDER_PARTS,
    file_sha256,
    key,
    ledger_settings,
    render_settings,
)
from pipeline.staging import read_table, write_frame

RENDER_ROWS = 50_000  # rows formatted at a time when a day is rendered


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
    guarded: int = 0  # text cells prefixed with ' (a spreadsheet would run them as formulas)


EMPTY_STORE = pa.schema(
    [(TOKEN, pa.string()), ("ResponseId", pa.string()), (START, pa.int64()),
     (RECORDED, pa.int64()), (END, pa.int64()), (WAVE, pa.int64()), (ON_TIME, pa.bool_())]
)  # fmt: skip


def read_store(ctx: RunContext, store: str | None) -> pa.Table:
    """A day's stored winners (an empty table when the day has none yet)."""
    if not store:
        return EMPTY_STORE.empty_table()
    path = ctx.work / store
    if not path.exists():
        read_work_file(path)  # reports the lost work folder and the way out
    return read_table(path)


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

    def render(self, day: str, store: str | None) -> RenderedDay:
        """Render one day from its store: its CSV (cached by hash), counts and a frame for
        the checks."""
        ctx = self.ctx
        stored = read_store(ctx, store)
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
        # memory stays bounded. Every value is formatted and quoted on its own, so the bytes
        # are those of the day formatted at once.
        size = RENDER_ROWS

        def chunk(offset: int) -> tuple[bytes, pa.Table, list[str], int]:
            if positions is None:
                rows = stored.slice(offset, size)
                where = None if at is None else at.slice(offset, size)
            else:
                picked = pa.array(positions[offset : offset + size])
                rows = stored.take(picked)
                where = None if at is None else at.take(picked)
            own = weights if where is None or weights is None else weights.take(where.drop_null())
            table, guarded = day_table(
                rows, self.questions, own, ctx.cfg.rules, ctx.cfg.timezone, ctx.zip_population
            )
            csv = to_csv_bytes(table.drop_columns(["_token"]), header=not offset)
            return csv, table.select(CHECK_COLUMNS), table.column_names, guarded

        done = [chunk(offset) for offset in range(0, max(n, 1), size)]
        parts = [csv for csv, _, _, _ in done]
        checks = [check for _, check, _, _ in done]
        header = tuple(c for c in done[-1][2] if c != "_token")
        guarded = sum(count for _, _, _, count in done)
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
            guarded=guarded,
        )
