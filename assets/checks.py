"""Great Expectations suites as Dagster asset checks (blocking: a failure holds publication)."""

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from assets.panel import day_partitions, normalized_responses
from pipeline.checks import CheckOutcome, check_day_files, check_normalized_file
from pipeline.operations import add_outage
from pipeline.panel import stages
from resources.study import StudyResource


def _result(study: StudyResource, outcome: CheckOutcome, what: str) -> AssetCheckResult:
    if not outcome.passed:
        add_outage(
            study.ctx,
            "DELAY",
            f"Publication held: the {what} check failed ({'; '.join(outcome.failures)}). "
            "The data will be published once the problem is fixed.",
            outcome.failed_days,
        )
    return AssetCheckResult(
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "rows_checked": outcome.evaluated,
            "failed_days": ", ".join(outcome.failed_days) or "none",
            "failures": MetadataValue.md("\n".join(f"- {f}" for f in outcome.failures) or "none"),
        },
    )


@asset_check(
    asset=normalized_responses,
    blocking=True,
    description="GE suite: required columns, parsed timestamps, share of known SurveyIDs.",
)
def normalized_responses_valid(
    study: StudyResource, normalized_responses: stages.NormalizeResult
) -> AssetCheckResult:
    if normalized_responses.batch is None:
        return AssetCheckResult(passed=True, metadata={"rows_checked": 0})
    outcome = check_normalized_file(normalized_responses.batch)
    return _result(study, outcome, "normalized responses")


@asset_check(
    asset=day_partitions,
    blocking=True,
    description="GE suite on each rendered day: exact header (no forbidden column), one row per "
    "respondent, StartDatetime inside its day, positive weights.",
)
def day_files_valid(study: StudyResource, day_partitions: stages.DayBuild) -> AssetCheckResult:
    rendered = {day: r for day, r in day_partitions.rendered.items() if r.get("check")}
    files = {day: r["check"] for day, r in rendered.items()}
    headers = {day: r["header"] for day, r in rendered.items()}
    outcome = check_day_files(files, day_partitions.questions, headers)
    return _result(study, outcome, "published day files")


PANEL_CHECKS = [normalized_responses_valid, day_files_valid]
