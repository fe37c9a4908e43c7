"""Session-study assets (SPEC §4): the same machinery, study-wide published files."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
)

from assets.panel import SFTP_POOL
from assets.retries import retry_transient
from assets.signals import (
    PUBLISH_KEYS,
    attention,
    describe,
    fetch_metadata,
    publish_metadata,
    responses_chart,
    warn_quarantined,
)
from assets.study import Study
from pipeline.fetching import FetchResult
from pipeline.operations import add_outage
from pipeline.session.run import (
    SessionBuild,
    build_session,
    fetch_session_files,
    publish_session,
)


def session_assets(study: Study) -> list[AssetsDefinition]:
    """The nightly stages of one session study."""
    name, rkey, group = study.name, study.resource_key, study.name

    def key(stage: str) -> AssetKey:
        return AssetKey([name, stage])

    def ctx_of(context: AssetExecutionContext):
        return getattr(context.resources, rkey).ctx

    @asset(
        key=key("session_raw_files"), group_name=group, **study.asset_meta("python", "json"), pool=SFTP_POOL,
        required_resource_keys={rkey}, io_manager_key=study.io_manager_key,
        description=describe(
            "New session records, consent rulings and video lists, archived before parsing.",
            ["files_listed", "files_new", "duplicates", "bytes_fetched"],
        ),
    )  # fmt: skip
    @retry_transient(rkey)
    def session_raw_files(context: AssetExecutionContext) -> Output[FetchResult]:
        res = fetch_session_files(ctx_of(context))
        md = fetch_metadata(res.listed, len(res.to_parse), res.duplicates, res.bytes_fetched)
        return Output(res, metadata=md)

    @asset(
        key=key("session_responses"), group_name=group, **study.asset_meta("python", "json"), required_resource_keys={rkey}, io_manager_key=study.io_manager_key,
        ins={"session_raw_files": AssetIn(key=key("session_raw_files"))},
        check_specs=[
            AssetCheckSpec("hashed_ids_unique", asset=key("session_responses"), blocking=True,
                           description="No hashed ID is shared by two global IDs (accounts, "
                           "children, snapshots); a collision holds publication."),
            AssetCheckSpec("inputs_accepted", asset=key("session_responses"),
                           description="WARN when an input file was quarantined."),
        ],
        description=describe(
            "Consent-gated responses with hashed IDs and every study file.",
            ["responses", "published_responses", "quarantined", "files", "excluded_*"],
        ),
    )  # fmt: skip
    def session_responses(
        context: AssetExecutionContext, session_raw_files: FetchResult
    ) -> Iterator:
        ctx = ctx_of(context)
        res = build_session(ctx, session_raw_files)
        warn_quarantined(context, res.quarantined)
        md = {f"excluded_{k}": v for k, v in sorted(res.excluded.items())}
        yield Output(
            res,
            metadata={
                "responses": res.responses,
                "published_responses": res.published,
                "quarantined": len(res.quarantined),
                "files": len(res.files),
                **md,
            },
        )
        yield attention(
            "inputs_accepted", key("session_responses"),
            {"quarantined": [q.path for q in res.quarantined]},
            "Input files quarantined by this run (kept in the archive, named in OUTAGES.txt).",
        )  # fmt: skip
        if res.collisions:
            add_outage(
                ctx, "DELAY",
                "Publication held: hashed-ID collision(s) found; raise hash_digits and rerun.",
            )  # fmt: skip
        yield AssetCheckResult(
            check_name="hashed_ids_unique",
            asset_key=key("session_responses"),
            passed=not res.collisions,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "collisions": MetadataValue.md(
                    "\n".join(f"- {c}" for c in res.collisions) or "none"
                )
            },
        )

    @asset(
        key=key("session_published_files"), group_name=group, **study.asset_meta("csv", "sftp"), pool=SFTP_POOL,
        required_resource_keys={rkey},
        ins={"session_raw_files": AssetIn(key=key("session_raw_files")),
             "session_responses": AssetIn(key=key("session_responses"))},
        description=describe(
            "Study-wide files, OUTAGES, SHA256SUMS and the run manifest; the run's commit.",
            [*PUBLISH_KEYS,
             "days_rematerialized", "responses_per_day"],
        ),
    )  # fmt: skip
    @retry_transient(rkey)
    def session_published_files(
        context: AssetExecutionContext, session_raw_files: FetchResult,
        session_responses: SessionBuild,
    ) -> MaterializeResult:  # fmt: skip
        res = publish_session(ctx_of(context), session_raw_files, session_responses)
        return MaterializeResult(
            metadata={
                **publish_metadata(res),
                "days_rematerialized": ", ".join(res.reissued_days) or "none",
                "responses_per_day": responses_chart(res.daily_counts),
            },
        )

    return [session_raw_files, session_responses, session_published_files]
