"""Per-day partitions (America/Los_Angeles): re-materialize and re-publish any day range.

Backfills launched from the UI run one Dagster run per day; they run in parallel (the
run queue's limit), each holding the state's run lock shared and its own day lock.
"""

import os

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    DailyPartitionsDefinition,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from assets.panel import SFTP_POOL, published_files
from assets.retries import retry_transient
from pipeline.checks import check_day_files
from pipeline.operations import add_outage
from pipeline.panel.republish import publish_rendered_day, render_day
from resources.study import StudyResource

DAYS_GROUP = "panel_days"
PARTITIONS_START = os.environ.get("PIPELINE_PARTITIONS_START", "2020-04-01")
daily_partitions = DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="America/Los_Angeles", end_offset=0
)


@asset(
    partitions_def=daily_partitions,
    group_name=DAYS_GROUP,
    deps=[published_files],
    description="One day's published rows, rendered from the state (day store, weights).",
)
def day_file_content(context: AssetExecutionContext, study_day: StudyResource) -> Output[dict]:
    rendered = render_day(study_day.ctx, context.partition_key)
    return Output(
        rendered,
        metadata={
            "rows": rendered["rows"],
            "withheld": rendered["withheld"],
            "csv_sha256": rendered["csv_sha"],
        },  # fmt: skip
    )


@asset_check(
    asset=day_file_content,
    blocking=True,
    partitions_def=daily_partitions,  # checks one partition, loads only that one
    description="GE suite on this day only: header, one row per respondent, day, weights.",
)
def day_file_content_valid(study_day: StudyResource, day_file_content: dict) -> AssetCheckResult:
    day = day_file_content["day"]
    outcome = check_day_files(
        {day: day_file_content["check"]},
        day_file_content["questions"],
        {day: day_file_content["header"]},
    )
    if not outcome.passed:
        add_outage(
            study_day.ctx, "DELAY",
            f"Re-publication of {day} held: a data check failed ({'; '.join(outcome.failures)}).",
            [day],
        )  # fmt: skip
    return AssetCheckResult(
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={"failures": MetadataValue.md("\n".join(outcome.failures) or "none")},
    )


@asset(
    partitions_def=daily_partitions,
    group_name=DAYS_GROUP,
    pool=SFTP_POOL,
    description="The day's file published with today's `recorded` date (linked if unchanged).",
)
@retry_transient
def day_file(
    context: AssetExecutionContext, study_day: StudyResource, day_file_content: dict
) -> Output[list[str]]:
    ctx = study_day.ctx
    with ctx.store.run_lock(name=f"day-{context.partition_key}"):
        res = publish_rendered_day(ctx, day_file_content)
    return Output(
        res.written + res.linked,
        metadata={
            "written": len(res.written),
            "linked": len(res.linked),
            "bytes_uploaded": res.bytes_uploaded,
        },  # fmt: skip
    )


DAY_ASSETS = [day_file_content, day_file]
DAY_CHECKS = [day_file_content_valid]
