"""Session-study assets (SPEC §4): the same machinery, study-wide published files."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from assets.panel import SFTP_POOL, fetch_metadata, responses_chart
from assets.retries import retry_transient
from pipeline.operations import add_outage
from pipeline.panel.publish import PublishResult
from pipeline.panel.stages import FetchResult
from pipeline.session.run import (
    SessionBuild,
    build_session,
    fetch_session_files,
    publish_session,
)
from resources.study import StudyResource

GROUP = "session"


@asset(group_name=GROUP, pool=SFTP_POOL, description="New session records, rulings, video lists.")
@retry_transient
def session_raw_files(study: StudyResource) -> Output[FetchResult]:
    res = fetch_session_files(study.ctx)
    return Output(res, metadata=fetch_metadata(res))


@asset(
    group_name=GROUP, description="Consent-gated responses with hashed IDs and all output files."
)
def session_responses(study: StudyResource, session_raw_files: FetchResult) -> Output[SessionBuild]:
    res = build_session(study.ctx, session_raw_files)
    md = {f"excluded_{k}": v for k, v in sorted(res.excluded.items())}
    return Output(
        res,
        metadata={
            "responses": res.responses,
            "published_responses": res.published,
            "quarantined": len(res.quarantined),
            "files": len(res.files),
            **md,
        },
    )


@asset_check(
    asset=session_responses,
    blocking=True,
    description="No hashed ID is shared by two global IDs (accounts, children, snapshots).",
)
def hashed_ids_unique(study: StudyResource, session_responses: SessionBuild) -> AssetCheckResult:
    if session_responses.collisions:
        add_outage(
            study.ctx, "DELAY",
            "Publication held: hashed-ID collision(s) found; raise hash_digits and rerun.",
        )  # fmt: skip
    return AssetCheckResult(
        passed=not session_responses.collisions,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "collisions": MetadataValue.md(
                "\n".join(f"- {c}" for c in session_responses.collisions) or "none"
            )
        },  # fmt: skip
    )


@asset(
    group_name=GROUP, pool=SFTP_POOL, description="Study-wide files, OUTAGES, SHA256SUMS, manifest."
)
@retry_transient
def session_published_files(
    study: StudyResource, session_raw_files: FetchResult, session_responses: SessionBuild
) -> Output[PublishResult]:
    res = publish_session(study.ctx, session_raw_files, session_responses)
    return Output(
        res,
        metadata={
            "files_written": len(res.written),
            "bytes_uploaded": res.bytes_uploaded,
            "rows_published": res.rows_published,
            "days_rematerialized": ", ".join(res.reissued_days) or "none",
            "responses_per_day": MetadataValue.md(responses_chart(res.daily_counts)),
        },
    )


SESSION_ASSETS = [session_raw_files, session_responses, session_published_files]
SESSION_CHECKS = [hashed_ids_unique]
