"""Stage 2: exports parsed into Arrow batches; malformed files quarantined.

A night's exports make one batch. A larger input (a rebuild, a first run over an inherited
archive) makes several, of about ``batch_rows`` rows each, in delivery order: the stages
after this one take them one at a time, so memory is bounded by a batch, not the archive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.context import RunContext
from pipeline.fetching import (
    FetchResult,
    FileStatus,
    Layout,
    Quarantined,
    set_aside,
)
from pipeline.panel.columns import question_columns
from pipeline.panel.qualtrics import (
    RECORDED,
    SURVEY,
    WAVE,
    ExportError,
    ParsedExport,
    decompress,
    parse_export,
)
from pipeline.staging import write_frame

UNKNOWN_WAVE_KEY = 1e9  # layout order of a file whose waves are all unknown


@dataclass(frozen=True)
class NormalizeResult:
    """Parsed exports staged as Arrow batches (files in the run folder), in delivery order."""

    batches: tuple[str, ...] = ()
    rows_in: int = 0
    deferred: int = 0
    quarantined: tuple[Quarantined, ...] = ()
    file_status: Mapping[str, FileStatus] = field(default_factory=dict)  # by content hash
    unknown_waves: int = 0


def normalize_exports(ctx: RunContext, fetch: FetchResult) -> NormalizeResult:
    """Parse every file to process; quarantine malformed ones (and files over a limit),
    keep going with the rest. The files the fetch skipped are reported with them."""
    batches: list[str] = []
    tables: list[pa.Table] = []  # of the batch being filled
    quarantined: list[Quarantined] = list(fetch.skipped)
    status: dict[str, FileStatus] = {}
    rows_in = deferred = unknown_waves = 0
    as_of = int(ctx.as_of.timestamp())

    def parse(item: tuple[str, str]) -> ParsedExport | ExportError:
        sha, path = item
        cfg = ctx.cfg
        try:  # the limits bound each file's time and memory (pipeline.limits)
            data = decompress(
                ctx.archive.get(sha), path, cfg.max_export_bytes, cfg.max_compression_ratio
            )
            return parse_export(data, path, cfg.waves, cfg.max_cell_chars, cfg.max_columns)
        except ExportError as exc:
            return exc

    def stage_batch() -> None:
        target = ctx.run_dir / f"normalized-{len(batches):04d}.arrow"
        batches.append(write_frame(pa.concat_tables(tables, promote_options="default"), target))
        tables.clear()

    for sha, path in fetch.to_parse:
        parsed = parse((sha, path))
        if isinstance(parsed, ExportError):
            exc = parsed
            quarantined.append(set_aside(ctx, sha, path, exc))
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
        if sum(t.num_rows for t in tables) >= ctx.cfg.batch_rows:
            stage_batch()
    if tables:
        stage_batch()
    return NormalizeResult(
        tuple(batches), rows_in, deferred, tuple(quarantined), status, unknown_waves
    )
