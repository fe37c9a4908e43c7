"""A whole panel run as plain function calls (the Dagster job runs the same stages as assets)."""

from __future__ import annotations

from pipeline.context import RunContext
from pipeline.panel.publish import publish_and_commit
from pipeline.panel.stages import (
    apply_eligibility,
    apply_lag_policy,
    build_days,
    fetch_exports,
    normalize_exports,
    rebuilding,
    resolve_collisions,
)
from pipeline.publishing import PublishResult


def run_panel_stages(ctx: RunContext, held_days: set[str] | None = None) -> PublishResult:
    """Run every stage in order and commit; used by tests of the domain layer."""
    fetch = fetch_exports(ctx, rebuild=rebuilding(ctx))
    norm = normalize_exports(ctx, fetch)
    elig = apply_eligibility(ctx, norm)
    delta = resolve_collisions(ctx, elig)
    lag = apply_lag_policy(ctx, delta)
    build = build_days(ctx, norm, delta, lag)
    return publish_and_commit(ctx, fetch, norm, elig, delta, lag, build, held_days)
