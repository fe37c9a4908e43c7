"""Re-render and re-publish a range of days from the state (a backfill), as one run.

Every day is rendered from its day store under the current settings, checked (one Great
Expectations suite for all days), and published with the run's `recorded` date, linked when
its bytes did not change. The cumulative file, OUTAGES.txt, SHA256SUMS and a run manifest
are written at once, and the run commits like a nightly run (no ledger change).
"""

from __future__ import annotations

from datetime import date

from pipeline.checks import CheckOutcome, check_day_files
from pipeline.clock import check_clock_order
from pipeline.context import RunContext
from pipeline.fetching import FetchResult, Layout
from pipeline.panel.columns import merge_layouts
from pipeline.panel.stages.days import DayBuild
from pipeline.panel.stages.eligibility import EligibilityResult
from pipeline.panel.stages.lag import LagResult
from pipeline.panel.stages.ledger import LedgerDelta
from pipeline.panel.stages.normalize import NormalizeResult
from pipeline.panel.stages.publish import publish_and_commit
from pipeline.panel.stages.render import DayRenderer
from pipeline.publishing import PublishResult


def republish_days(ctx: RunContext, days: list[str]) -> tuple[PublishResult, CheckOutcome]:
    """Re-render, check and re-publish ``days`` (closed days only) with the run's `recorded`
    date; days whose check fails are held (a DELAY entry) and the others published.

    A backfill re-renders days that were published: it needs no clock of the operator's (the
    run's own is fine) and the clock-gap rule, which keeps nightly runs from publishing empty
    days, is not its concern. Days of the range that were never published (before the
    study's first day or after its newest) are left out, and said so in the result."""
    check_clock_order(ctx.as_of, ctx.store.last_as_of())
    last_closed = ctx.last_closed
    for day in days:
        if date.fromisoformat(day) > last_closed:
            raise ValueError(
                f"{day} is not closed yet at {ctx.as_of.isoformat()} "
                f"({ctx.cfg.rules.cutoff_hour:02d}:00 cut-off)"
            )
    known = ctx.store.days()
    published = {d for d, row in known.items() if row.get("published_name")}
    wanted = [d for d in days if d in published]
    if not wanted:
        return PublishResult(skipped_days=list(days)), CheckOutcome(passed=True)
    layouts = tuple(Layout.from_json(doc) for doc in ctx.store.layouts())
    questions = merge_layouts([(lay.key, list(lay.columns)) for lay in layouts])
    renderer = DayRenderer.for_run(ctx, questions, None, rebuild=False)
    rendered = {d: renderer.render(d, known[d].get("store")) for d in wanted}
    outcome = check_day_files(
        {d: r.check for d, r in rendered.items()},
        questions,
        {d: list(r.header) for d, r in rendered.items()},
    )
    held = set(wanted) if not outcome.passed and not outcome.failed_days else set()
    held |= set(outcome.failed_days)
    ctx.forced_days = frozenset(wanted)
    # settings stay as the nightly runs recorded them: a backfill rebuilds no day store
    build = DayBuild(questions=tuple(questions), rendered=rendered, layouts=layouts)
    # the cumulative file ends at the newest published day, not at the run's clock
    last = min(last_closed, date.fromisoformat(max(published)))
    lag = LagResult(last_closed=last.isoformat())
    res = publish_and_commit(
        ctx, FetchResult(base_seq=ctx.base_seq), NormalizeResult(), EligibilityResult(),
        LedgerDelta(), lag, build,
        held_days=held,
    )  # fmt: skip
    res.skipped_days = [d for d in days if d not in published]
    return res, outcome
