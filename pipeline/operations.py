"""Operator actions shared by the CLI and the Dagster job."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline import outages
from pipeline.context import RunContext


def add_outage(ctx: RunContext, kind: str, message: str, days: Iterable[str] = ()) -> str:
    """Record an operator entry and republish OUTAGES.txt at once; returns the new text."""
    entry = outages.entry(kind, message, list(days), at=ctx.as_of, timezone=ctx.cfg.timezone)
    ctx.store.add_outage(entry)
    data = outages.render(ctx.store.outages())
    loc = ctx.open(ctx.cfg.publish)
    try:
        loc.write_atomic("OUTAGES.txt", data)
    finally:
        loc.close()
    return data.decode()
