"""Re-materialize and re-publish single days from the state (per-day partitions, backfills).

Several days may run in parallel: each takes the run lock shared and its own day lock,
renders the day from its day store and commits only that day's rows. The cumulative file
and SHA256SUMS are refreshed by the next nightly run.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipeline import outages
from pipeline.context import RunContext
from pipeline.panel.columns import merge_layouts
from pipeline.panel.publish import PublishResult, _publish_day, _Publisher, daily_names
from pipeline.panel.stages import DayBuild, _render_day
from pipeline.state.store import RunChanges


def render_day(ctx: RunContext, day: str) -> dict[str, Any]:
    """Render one day from the state (questions of every known wave, current weights)."""
    date.fromisoformat(day)
    if date.fromisoformat(day) > ctx.last_closed:
        raise ValueError(f"{day} is not closed yet at {ctx.as_of.isoformat()} (04:00 cut-off)")
    layouts = ctx.store.layouts()
    questions = merge_layouts([(lay["key"], lay["columns"]) for lay in layouts])
    known = ctx.store.days().get(day, {})
    rendered = _render_day(ctx, day, known.get("store"), questions, {})
    return {**rendered, "day": day, "questions": questions}


def publish_rendered_day(ctx: RunContext, rendered: dict[str, Any]) -> PublishResult:
    """Publish a rendered day under today's `recorded` date and commit that day alone."""
    day = rendered["day"]
    res = PublishResult()
    changes = RunChanges(
        run_id=ctx.run_id, as_of=ctx.as_of.isoformat(), recorded=ctx.recorded.isoformat()
    )
    entries: list[dict[str, Any]] = []

    def note(kind: str, message: str, days: list[str] | tuple[str, ...] = ()) -> None:
        entries.append(
            outages.entry(
                kind, message, days, at=ctx.as_of, timezone=ctx.cfg.timezone, run_id=ctx.run_id
            )  # fmt: skip
        )

    ctx.extra["forced_days"] = {day}
    loc = ctx.open(ctx.cfg.publish)
    try:
        day_rows = ctx.store.days()
        pub = _Publisher(ctx, loc, changes, res, daily_names(ctx, day_rows))
        new_days: dict[str, dict[str, Any]] = {}
        build = DayBuild(questions=rendered["questions"], rendered={day: rendered})
        _publish_day(ctx, pub, date.fromisoformat(day), day_rows, new_days, build, set(), note, res)
        changes.days = list(new_days.values())
        changes.outages = entries
        ctx.store.commit(changes, partial=True)
        pub.journal.committed()
        if entries:
            loc.write_atomic("OUTAGES.txt", outages.render(ctx.store.outages()))
    finally:
        loc.close()
    return res
