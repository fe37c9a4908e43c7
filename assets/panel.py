"""Panel-study assets: one asset per stage of SPEC §2, run in order by the nightly job."""

from dagster import AssetExecutionContext, MetadataValue, Output, asset

from assets.retries import retry_transient
from pipeline import checks
from pipeline.panel import stages
from pipeline.panel.publish import PublishResult, begin_run_commit, publish_and_commit
from resources.study import StudyResource

GROUP = "panel"
SFTP_POOL = "sftp"  # steps that talk to SFTP servers share this concurrency pool


@asset(
    group_name=GROUP,
    pool=SFTP_POOL,
    description="New raw exports fetched from the SFTP drop into the archive.",
)
@retry_transient
def raw_exports(study: StudyResource) -> Output[stages.FetchResult]:
    ctx = study.ctx
    # new files mean rows to check: the checker process imports Great Expectations meanwhile
    res = stages.fetch_exports(
        ctx, on_new=lambda _new: checks.warm_up(), rebuild=stages.rebuilding(ctx)
    )
    return Output(res, metadata=fetch_metadata(res))


def fetch_metadata(res: stages.FetchResult) -> dict:
    """What a fetch step shows in the UI (panel and session studies alike)."""
    return {
        "files_listed": res.listed,
        "files_new": len(res.to_parse),
        "duplicates": res.duplicates,
        "bytes_fetched": res.bytes_fetched,
    }


@asset(group_name=GROUP, description="Exports parsed into one schema; malformed files quarantined.")
def normalized_responses(
    study: StudyResource, raw_exports: stages.FetchResult
) -> Output[stages.NormalizeResult]:
    if raw_exports.to_parse:  # started already when this step runs in the fetch's process
        checks.warm_up()
    res = stages.normalize_exports(study.ctx, raw_exports)
    return Output(
        res,
        metadata={
            "rows_in": res.rows_in,
            "quarantined": len(res.quarantined),
            "deferred_recorded_after_clock": res.deferred,
            "unknown_survey_ids": res.unknown_waves,
            "quarantine_errors": MetadataValue.md(
                "\n".join(f"- {q['error']}" for q in res.quarantined) or "none"
            ),
        },
    )


@asset(
    group_name=GROUP, description="Responses de-duplicated by ResponseId with exclusion reasons."
)
def eligible_responses(
    study: StudyResource, normalized_responses: stages.NormalizeResult
) -> Output[stages.EligibilityResult]:
    res = stages.apply_eligibility(study.ctx, normalized_responses)
    md = {f"excluded_{k}": v for k, v in res.excluded.items()}
    return Output(res, metadata={"responses": res.responses, "eligible": res.eligible, **md})


@asset(group_name=GROUP, description="The token ledger: earliest start wins, remembered forever.")
def response_ledger(
    study: StudyResource, eligible_responses: stages.EligibilityResult
) -> Output[stages.LedgerDelta]:
    res = stages.resolve_collisions(study.ctx, eligible_responses)
    return Output(
        res,
        metadata={
            "tokens_seen": res.tokens_seen,
            "new_tokens": res.new_tokens,
            "collisions": res.collisions,
            "swaps": res.swaps,
            "days_touched": len(res.dirty_days),
        },
    )


@asset(group_name=GROUP, pool=SFTP_POOL, description="Cut-offs, weights and the CID lists now due.")
@retry_transient
def lag_policy(
    study: StudyResource, response_ledger: stages.LedgerDelta
) -> Output[stages.LagResult]:
    res = stages.apply_lag_policy(study.ctx, response_ledger)
    return Output(
        res,
        metadata={
            "last_closed_day": res.last_closed,
            "new_weights": len(res.weight_rows),
            "cid_lists_due": len(res.cid_lists),
            "cids_listed": sum(len(v) for v in res.cid_lists.values()),
        },
    )


@asset(
    group_name=GROUP, description="Per-day response sets (America/Los_Angeles) and rendered files."
)
def day_partitions(
    study: StudyResource,
    normalized_responses: stages.NormalizeResult,
    response_ledger: stages.LedgerDelta,
    lag_policy: stages.LagResult,
) -> Output[stages.DayBuild]:
    # The ledger rows are final: their commit starts now and runs while days render.
    begin_run_commit(study.ctx, response_ledger, lag_policy)
    res = stages.build_days(study.ctx, normalized_responses, response_ledger, lag_policy)
    return Output(
        res,
        metadata={
            "days_rebuilt": len(res.stores),
            "days_rendered": len(res.rendered),
            "schema_changed": res.schema_changed,
            "days_rerendered_settings_changed": len(res.rerendered),
            "rows_withheld": res.withheld,
            "columns": len(res.questions),
        },
    )


def responses_chart(counts: dict[str, int]) -> str:
    recent = sorted(counts.items())[-30:]
    if not recent:
        return "no days published"
    top = max(c for _d, c in recent) or 1
    lines = ["| day | responses | |", "|---|---:|---|"]
    lines += [f"| {d} | {c} | {'█' * max(0, round(30 * c / top))} |" for d, c in recent]
    return "\n".join(lines)


@asset(
    group_name=GROUP,
    pool=SFTP_POOL,
    description="Daily, cumulative, codebook, OUTAGES, SHA256SUMS, run manifest.",
)
@retry_transient
def published_files(
    context: AssetExecutionContext,
    study: StudyResource,
    raw_exports: stages.FetchResult,
    normalized_responses: stages.NormalizeResult,
    eligible_responses: stages.EligibilityResult,
    response_ledger: stages.LedgerDelta,
    lag_policy: stages.LagResult,
    day_partitions: stages.DayBuild,
) -> Output[PublishResult]:
    res = publish_and_commit(
        study.ctx, raw_exports, normalized_responses, eligible_responses, response_ledger,
        lag_policy, day_partitions,
    )  # fmt: skip
    context.log.info(f"published {len(res.written)} files, linked {len(res.linked)}")
    return Output(
        res,
        metadata={
            "files_written": len(res.written),
            "files_linked": len(res.linked),
            "bytes_uploaded": res.bytes_uploaded,
            "rows_published": res.rows_published,
            "rows_withheld": res.rows_withheld,
            "days_reissued_settings_changed": len(res.rerendered_days),
            "days_reissued": len(res.reissued_days),
            "corrections": len(res.corrections),
            "manifest": res.manifest,
            "responses_per_day": MetadataValue.md(responses_chart(res.daily_counts)),
        },
    )


PANEL_ASSETS = [
    raw_exports,
    normalized_responses,
    eligible_responses,
    response_ledger,
    lag_policy,
    day_partitions,
    published_files,
]
