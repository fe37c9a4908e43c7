"""Operator actions shared by the CLI and the Dagster jobs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from pipeline import checksums, outages
from pipeline.context import RunContext


def add_outage(ctx: RunContext, kind: str, message: str, days: Iterable[str] = ()) -> str:
    """Record an entry and republish OUTAGES.txt (and SHA256SUMS) at once; returns the text.

    An entry identical to the newest one (same kind, days and message) is not repeated:
    a run held night after night for the same reason is said once.
    """
    entry = outages.entry(kind, message, list(days), at=ctx.as_of, timezone=ctx.cfg.timezone)
    newest = next(iter(ctx.store.outages()), None)
    same = newest and all(newest[k] == entry[k] for k in ("kind", "days", "message"))
    if not same:
        ctx.store.add_outage(entry)
    data = outages.render(ctx.store.outages())
    published: dict[str, str | None] = dict(ctx.store.checksums())
    changes = ctx.new_changes()
    row = {"name": "OUTAGES.txt", "kind": "outages", "sha256": hashlib.sha256(data).hexdigest(),
           "size": len(data), "day": None, "recorded": ctx.recorded.isoformat(),
           "run_id": ctx.run_id, "removed": False}  # fmt: skip
    published["OUTAGES.txt"] = row["sha256"]
    sums = checksums.render(published)[checksums.ROOT]  # OUTAGES.txt is in the root
    changes.published = [
        row,
        {**row, "name": "SHA256SUMS", "kind": "sums", "sha256": hashlib.sha256(sums).hexdigest(),
         "size": len(sums)},
    ]  # fmt: skip
    loc = ctx.open(ctx.cfg.publish)
    try:
        loc.write_atomic("OUTAGES.txt", data)
        loc.write_atomic("SHA256SUMS", sums)
    finally:
        loc.close()
    ctx.store.commit(changes, partial=True)
    return data.decode()
