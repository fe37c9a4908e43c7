"""Fetching input files (panel and session studies alike): the source is listed, what is
new or changed is archived before anything parses it, and every file seen is recorded.

A file on a source is identified by its path, size, modification time and SHA-256 (SPEC
§5): the same bytes delivered twice, under any name, are ingested once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC
from typing import Any

from pipeline import outages
from pipeline.clock import check_clock_order
from pipeline.context import RunContext
from pipeline.history import check_history
from pipeline.limits import shown
from pipeline.locations import Location, RemoteFile
from pipeline.state.store import StateStore
from pipeline.unread import listing_skips, read_or_reason


@dataclass(frozen=True)
class Layout:
    """The header facts of an applied export: its wave sort key, waves, question columns
    (in export order) and their question texts."""

    key: float
    waves: tuple[int, ...]
    columns: tuple[str, ...]
    questions: Mapping[str, str]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Layout:
        """A layout as the state stores it."""
        return cls(
            float(doc["key"]), tuple(doc.get("waves", ())), tuple(doc["columns"]),
            dict(doc.get("questions", {})),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """This layout as the state stores it (JSON)."""
        return {"key": self.key, "waves": list(self.waves), "columns": list(self.columns),
                "questions": dict(self.questions)}  # fmt: skip


@dataclass(frozen=True)
class InputFile:
    """One file seen on a source (a row of the state's ``ingested_files``)."""

    source: str
    path: str
    size: int
    mtime: float
    sha256: str
    kind: str  # export | weights | session
    status: str = "applied"  # applied | duplicate | quarantined | pending (rows after the clock)
    error: str | None = None
    rows: int | None = None
    layout: Layout | None = None
    run_id: str = ""
    seen_at: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any], run_id: str) -> InputFile:
        """A stored row, taken over by the run ``run_id``."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in row.items() if k in names}
        if values.get("layout"):
            values["layout"] = Layout.from_json(values["layout"])
        return cls(**{**values, "run_id": run_id})

    def row(self) -> dict[str, Any]:
        """This file as an ``ingested_files`` row."""
        out = asdict(self)
        out["layout"] = self.layout.to_json() if self.layout else None
        return out


@dataclass(frozen=True)
class Quarantined:
    """A malformed input file, kept aside with its one-line error (file, line, column); or,
    with no ``sha256``, a listed file the run did not read (:attr:`skipped`)."""

    path: str
    sha256: str
    error: str
    kept: str = ""  # where the archive keeps its bytes and error

    @property
    def skipped(self) -> bool:
        """Not read at all (:mod:`pipeline.unread`): nothing archived or recorded as seen,
        so the next run tries the file again."""
        return not self.sha256


@dataclass(frozen=True)
class FileStatus:
    """What parsing made of an input file."""

    status: str  # applied | pending | quarantined
    rows: int | None = None
    layout: Layout | None = None
    error: str | None = None

    def applied_to(self, f: InputFile) -> InputFile:
        """``f`` with this outcome."""
        return replace(f, status=self.status, rows=self.rows, layout=self.layout, error=self.error)


@dataclass(frozen=True)
class FetchResult:
    """Files found on the source, and which to parse (content hash, path)."""

    files: tuple[InputFile, ...] = ()
    to_parse: tuple[tuple[str, str], ...] = ()
    listed: int = 0
    duplicates: int = 0
    bytes_fetched: int = 0
    base_seq: int = 0  # the newest committed run when this run read the state
    skipped: tuple[Quarantined, ...] = ()  # wanted files not read (Quarantined.skipped)


def new_input(ctx: RunContext, source: str, f: RemoteFile, sha: str, kind: str) -> InputFile:
    """The record of a file this run fetched from ``source``."""
    return InputFile(
        source=source, path=f.path, size=int(f.size), mtime=float(f.mtime), sha256=sha,
        kind=kind, run_id=ctx.run_id, seen_at=ctx.as_of.astimezone(UTC).isoformat(),
    )  # fmt: skip


def unknown_files(
    loc: Location, store: StateStore, source: str, wanted: Callable[[str], bool]
) -> tuple[list[RemoteFile], int]:
    """The wanted files of ``loc`` that the state does not know by path, size and mtime
    (new or changed), and how many wanted files it lists."""
    listing = [f for f in loc.list_files() if wanted(f.path)]
    known = store.known_files(source)
    return [f for f in listing if (f.path, f.size, float(f.mtime)) not in known], len(listing)


def fetch_inputs(
    ctx: RunContext,
    wanted: Callable[[str], bool],
    kind: str,
    rebuild: bool = False,
) -> FetchResult:
    """Fetch new or changed input files from the source into the archive (idempotent).

    Files holding rows recorded after an earlier run's clock are parsed again; with ``rebuild``,
    every archived file of ``kind`` whose rows count is. The source is not read when the
    run is a rebuild from the archive alone (``ctx.fetch_source`` false).
    """
    check_clock_order(ctx.as_of, ctx.store.last_as_of())
    check_history(ctx)
    fetched: list[tuple[RemoteFile, str]] = []
    skipped: list[Quarantined] = []
    listed = bytes_fetched = 0
    if ctx.fetch_source:
        loc = ctx.open(ctx.cfg.source)
        try:
            new, listed = unknown_files(loc, ctx.store, ctx.cfg.source, wanted)
            skipped += [Quarantined(p, "", why) for p, why in listing_skips(loc, wanted)]
            for f in new:  # raw bytes archived before anything parses them
                data, why = read_or_reason(loc, f.path)
                if data is None:  # this file alone: skipped, tried again next run
                    skipped.append(Quarantined(f.path, "", why))
                    continue
                bytes_fetched += len(data)
                fetched.append((f, ctx.archive.put(data)))
        finally:
            loc.close()
    statuses = ctx.store.file_statuses(sha for _f, sha in fetched)
    queued: set[str] = set()
    files: list[InputFile] = []
    to_parse: list[tuple[str, str]] = []
    duplicates = 0
    for f, sha in fetched:
        row = new_input(ctx, ctx.cfg.source, f, sha, kind)
        if statuses.get(sha) in ("applied", "quarantined") or sha in queued:
            row = replace(row, status="duplicate")
            duplicates += 1
        else:
            queued.add(sha)
            to_parse.append((sha, f.path))
        files.append(row)
    again = ctx.store.input_files(kind) if rebuild else ctx.store.pending_files(kind)
    for p in again:
        if p["sha256"] not in queued:
            queued.add(p["sha256"])
            to_parse.append((p["sha256"], p["path"]))
            files.append(InputFile.from_row(p, ctx.run_id))
    return FetchResult(
        tuple(files), tuple(to_parse), listed, duplicates, bytes_fetched, ctx.base_seq,
        tuple(skipped),
    )  # fmt: skip


def with_outcomes(
    files: Iterable[InputFile], outcomes: Mapping[str, FileStatus]
) -> list[InputFile]:
    """The fetched files with what parsing made of them (duplicates stay duplicates)."""
    return [
        outcomes[f.sha256].applied_to(f) if f.status != "duplicate" and f.sha256 in outcomes else f
        for f in files
    ]


def set_aside(ctx: RunContext, sha: str, path: str, error: Exception | str) -> Quarantined:
    """Quarantine a malformed input file: its bytes and its one-line error stay in the
    archive (never deleted); the run goes on with the other files."""
    kept = ctx.archive.quarantine(sha, path, str(error))
    return Quarantined(path, sha, str(error), str(kept))


def quarantine_notices(ctx: RunContext, quarantined: Iterable[Quarantined]) -> list[dict[str, Any]]:
    """The OUTAGES.txt NOTICE entries naming the files a run quarantined or skipped (names
    shown escaped: one line each). A skipped file is named once, not every night it stays:
    a NOTICE with the same message already in the state is not repeated."""
    entries = []
    said: set[str] | None = None
    for q in quarantined:
        what = "skipped" if q.skipped else "quarantined"
        entry = outages.entry(
            "NOTICE", f"Input file {shown(q.path)} was {what} and not used: {q.error}",
            at=ctx.as_of, timezone=ctx.cfg.timezone, run_id=ctx.run_id,
        )  # fmt: skip
        if q.skipped:
            if said is None:
                said = {e["message"] for e in ctx.store.outages() if e.get("kind") == "NOTICE"}
            if entry["message"] in said:
                continue
            said.add(entry["message"])
        entries.append(entry)
    return entries
