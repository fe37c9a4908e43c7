"""A lost state database, found and recovered from what is published (issue 28).

The state records which inputs were ingested, which files were published (and their
SHA-256), the OUTAGES entries and which tokens went on which CID list. All of it is also
out in the open: the run manifests (``runs/*.json``: every input file and its SHA-256),
SHA256SUMS, OUTAGES.txt, the daily files themselves and the CID lists. So:

* a nightly run that finds no committed run in its state while the publish location holds
  a SHA256SUMS refuses (:func:`refuse_lost_state`): it would publish a history that forgets
  everything before it;
* ``rebuild`` with such a state first restores that record (:func:`restore_history`), then
  rebuilds the ledger and the day stores from the raw archive as usual; days whose bytes
  come out the same are not published again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import posixpath
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pipeline import checksums, outages
from pipeline.config import Config, ConfigError
from pipeline.context import RunContext
from pipeline.locations import Location, LocationUnavailable, open_location
from pipeline.panel import names
from pipeline.state import schema
from pipeline.state.store import StateStore
from pipeline.state.upsert import upsert, write_ingested

log = logging.getLogger(__name__)

RECOVERED = "recovered"  # run_id of rows restored from the publish location


class LostStateError(ConfigError):
    """The state has no committed run but the publish location holds published files."""


def state_is_empty(store: StateStore) -> bool:
    """No committed run and no published file recorded (an operator's OUTAGES entry before
    the first run records one)."""
    return not store.last_seq() and not store.checksums()


def has_publication(ctx: RunContext) -> bool:
    """Whether the publish location holds a publication (a SHA256SUMS listing files); an
    unusable location holds none (the publish step reports what is wrong with it)."""
    try:
        loc = ctx.open(ctx.cfg.publish)
        try:
            return loc.stat(checksums.ROOT) is not None and bool(checksums.read(loc))
        finally:
            loc.close()
    except (OSError, LocationUnavailable):
        return False


def refuse_lost_state(ctx: RunContext) -> None:
    """Refuse a nightly run on an empty state when the publish location already holds a
    publication (a lost or truncated state database, or a state URL pointing elsewhere)."""
    if has_publication(ctx):
        raise LostStateError(
            f"the state database has no run, but {ctx.cfg.publish} holds a publication: the "
            "state was lost or points elsewhere. Recover it with `python -m pipeline rebuild "
            "--config FILE` (it restores the state from the raw archive and the published files)"
        )


def last_published_clock(cfg: Config) -> str | None:
    """The clock of the newest run manifest published (None: nothing published)."""
    loc = open_location(cfg.publish, cfg.sftp)
    try:
        if loc.stat(checksums.ROOT) is None:
            return None
        clocks = [
            json.loads(loc.read_bytes(n))["as_of"]
            for n in checksums.read(loc)
            if n.startswith("runs/")
        ]
    finally:
        loc.close()
    return max(clocks, default=None)


def kind_of(name: str) -> str:
    """The kind a published file was recorded under, from its name."""
    base = posixpath.basename(name)
    if checksums.is_sums(name):
        return "sums"
    if name.startswith("runs/"):
        return "run"
    if names.DAILY_RE.match(base):
        return "daily"
    if names.CUMULATIVE_RE.match(base):
        return "cumulative"
    if names.MONTHLY_RE.match(base):
        return "rollup"
    if names.PARQUET_RE.match(base):
        return "parquet"
    return {"OUTAGES.txt": "outages", "codebook.csv": "codebook"}.get(base, "session")


@dataclass
class History:
    """The state rows restored from the publish (and CID) locations."""

    published: list[dict[str, Any]] = field(default_factory=list)
    outages: list[dict[str, Any]] = field(default_factory=list)  # newest first
    inputs: list[dict[str, Any]] = field(default_factory=list)
    days: list[dict[str, Any]] = field(default_factory=list)
    cid_lists: list[dict[str, Any]] = field(default_factory=list)
    cid_tokens: dict[str, str] = field(default_factory=dict)  # token -> day of its list


def read_history(ctx: RunContext) -> History:
    """Everything the publish location (and the CID list location) says about the past."""
    out = History()
    loc = ctx.open(ctx.cfg.publish)
    try:
        sums = checksums.read(loc)
        sizes = {f.path: f.size for f in loc.list_files()}
        for name, sha in sorted(sums.items()):
            if name in sizes:
                out.published.append(_published_row(name, sha, sizes[name]))
        # the subfolders' SHA256SUMS files, which no listing names (a folder that empties
        # later must lose its own)
        for name in sorted(n for n in sizes if checksums.is_sums(n) and "/" in n):
            sha = hashlib.sha256(loc.read_bytes(name)).hexdigest()
            out.published.append(_published_row(name, sha, sizes[name]))
        if "OUTAGES.txt" in sizes:
            out.outages = outages.parse(loc.read_bytes("OUTAGES.txt").decode("utf-8"), RECOVERED)
        seen: set[tuple[str, str]] = set()
        for name in sorted(n for n in sums if n.startswith("runs/") and n in sizes):
            doc = json.loads(loc.read_bytes(name))
            for f in doc.get("inputs", []):
                if f["status"] in ("applied", "pending") and (f["path"], f["sha256"]) not in seen:
                    seen.add((f["path"], f["sha256"]))
                    out.inputs.append(_input_row(ctx, f, doc.get("as_of", "")))
        if ctx.cfg.kind == "panel":
            out.days = _days(ctx, loc, out.published)
    finally:
        loc.close()
    if ctx.cfg.kind == "panel" and ctx.cfg.cid_out:
        _cid_history(ctx, out)
    return out


def _published_row(name: str, sha: str, size: int) -> dict[str, Any]:
    m = names.DAILY_RE.match(posixpath.basename(name))
    day = recorded = None
    if m:
        day = names.parse_date(m[1]).isoformat()
        recorded = names.parse_date(m[2]).isoformat()
    elif names.PARQUET_RE.match(posixpath.basename(name)):
        day = posixpath.basename(posixpath.dirname(name)).removeprefix("day=")
    return {"name": name, "kind": kind_of(name), "sha256": sha, "size": size, "day": day,
            "recorded": recorded, "run_id": RECOVERED, "removed": False}  # fmt: skip


def _input_row(ctx: RunContext, f: dict[str, Any], as_of: str) -> dict[str, Any]:
    cfg = ctx.cfg
    weights = cfg.kind == "panel" and names.WEIGHTS_RE.match(posixpath.basename(f["path"]))
    kind = ("weights" if weights else "export") if cfg.kind == "panel" else "session"
    source = cfg.weights if weights else cfg.source
    return {"source": source, "path": f["path"], "size": int(f["size"]), "mtime": 0.0,
            "sha256": f["sha256"], "kind": kind, "status": f["status"], "error": None,
            "rows": None, "layout": None, "run_id": RECOVERED, "seen_at": as_of}  # fmt: skip


def _days(ctx: RunContext, loc: Location, published: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each day's newest published version, its CSV kept in the run's cache by hash."""
    newest: dict[str, dict[str, Any]] = {}
    for row in published:
        if row["kind"] == "daily" and row["recorded"] >= newest.get(row["day"], {}).get(
            "recorded", ""
        ):
            newest[row["day"]] = row
    days = []
    for day, row in sorted(newest.items()):
        data = loc.read_bytes(row["name"])
        csv = gzip.decompress(data) if row["name"].endswith(".gz") else data
        days.append({
            "day": day, "store": None, "rows": max(0, csv.count(b"\n") - 1),
            "csv_sha": ctx.cache_csv(csv), "render_key": None, "published_name": row["name"],
            "published_recorded": row["recorded"], "changed_recorded": row["recorded"],
            "stale": False,
        })  # fmt: skip
    return days


def _cid_history(ctx: RunContext, out: History) -> None:
    loc = ctx.open(ctx.cfg.cid_out or "")
    try:
        for f in loc.list_files():
            m = names.CID_LIST_RE.match(posixpath.basename(f.path))
            if not m:
                continue
            day = names.parse_date(m[1]).isoformat()
            tokens = [t for t in loc.read_bytes(f.path).decode("utf-8").splitlines() if t]
            out.cid_lists.append(
                {"day": day, "name": f.path, "count": len(tokens), "run_id": RECOVERED}
            )
            for token in tokens:
                out.cid_tokens.setdefault(token, day)
    finally:
        loc.close()


def restore_history(ctx: RunContext) -> History:
    """Write what the publish location says into an empty state, in one transaction, for a
    rebuild to start from (see the module docstring); returns it."""
    history = read_history(ctx)
    inputs = [f for f in history.inputs if ctx.archive.path(f["sha256"]).exists()]
    if len(inputs) < len(history.inputs):
        log.warning("%d published input(s) are not in the raw archive",
                    len(history.inputs) - len(inputs))  # fmt: skip
    # only the CID list each token went on matters to the rebuild: the other columns are
    # placeholders the rebuild replaces (an Arrow table: upserts of many rows go in bulk)
    tokens, cid_days = list(history.cid_tokens), list(history.cid_tokens.values())
    n = len(tokens)
    placeholders = pa.table({
        "token": pa.array(tokens, pa.string()), "response_id": pa.array([""] * n),
        "start": pa.array([0] * n, pa.int64()), "recorded": pa.array([0] * n, pa.int64()),
        "day": pa.array(cid_days, pa.string()), "eligible": pa.array([False] * n),
        "reason": pa.nulls(n, pa.string()), "on_time_day": pa.nulls(n, pa.string()),
        "cid_day": pa.array(cid_days, pa.string()), "cid_pending": pa.array([False] * n),
    })  # fmt: skip
    with ctx.store.transaction("rebuild: restore the record of published history") as conn:
        upsert(conn, schema.published_files, "name", history.published)
        upsert(conn, schema.days, "day", history.days)
        upsert(conn, schema.cid_lists, "day", history.cid_lists)
        if n:
            upsert(conn, schema.ledger, "token", placeholders)
        write_ingested(conn, inputs)
        if history.outages:
            conn.execute(schema.outages.insert(), list(reversed(history.outages)))
    return history


def check_history(ctx: RunContext) -> None:
    """Before a run fetches anything: a nightly run on a lost state refuses; a rebuild of a
    lost state first restores the record of what was published."""
    if not state_is_empty(ctx.store):
        return
    if not ctx.rebuild:
        refuse_lost_state(ctx)
    elif has_publication(ctx):
        restore_history(ctx)
