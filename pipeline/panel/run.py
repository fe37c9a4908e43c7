"""A panel study's night, start to end (SPEC §2): each stage takes the previous stages'
results and returns its own. The Dagster assets (assets/panel.py) call the same stages,
one asset each; this is the same night as plain function calls."""

from __future__ import annotations

from pipeline.context import RunContext
from pipeline.panel.settings import rebuilding
from pipeline.panel.stages import days, eligibility, fetch, lag, ledger, normalize, publish
from pipeline.publishing import PublishResult


def run_night(ctx: RunContext, held_days: set[str] | None = None) -> PublishResult:
    """Fetch, normalize, judge, merge into the ledger, apply the lag policy, build the
    days, publish and commit. ``held_days``: days a failed check holds back."""
    fetched = fetch.fetch_exports(ctx, rebuild=rebuilding(ctx))  # raw bytes archived
    batch = normalize.normalize_exports(ctx, fetched)  # parsed; bad files quarantined
    judged = eligibility.apply_eligibility(ctx, batch)  # one copy per ResponseId, reasons
    delta = ledger.resolve_collisions(ctx, judged)  # earliest start wins, for all time
    policy = lag.apply_lag_policy(ctx, delta)  # closed days, weights, CID lists due
    built = days.build_days(ctx, batch, delta, policy)  # day stores, rendered days
    return publish.publish_and_commit(ctx, fetched, batch, judged, delta, policy, built, held_days)
