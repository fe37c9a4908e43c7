"""What a run shows in the UI: metadata with a one-line description per key, WARNING events
and WARN check results for what an operator must look at (SPEC §7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MetadataValue,
)

from pipeline.checks import CheckOutcome
from pipeline.context import RunContext
from pipeline.fetching import Quarantined
from pipeline.operations import add_outage
from pipeline.publishing import PublishResult

# Every metadata key a study's assets attach, with what it means. Asset descriptions list
# the keys they use (see :func:`describe`).
METADATA_DOCS: dict[str, str] = {
    "files_listed": "input files found on the source (of the kinds this study reads)",
    "files_new": "files parsed by this run: new or changed on the source, or waiting rows",
    "duplicates": "files whose bytes were ingested before (under any name)",
    "bytes_fetched": "bytes downloaded from the source into the raw archive",
    "rows_in": "data rows parsed from this run's files",
    "quarantined": "files kept aside as malformed (see OUTAGES.txt and the archive)",
    "deferred_recorded_after_clock": "rows recorded after the run's clock, left for a later run",
    "unknown_survey_ids": "rows whose SurveyID is not in the wave table (wave NA)",
    "quarantine_errors": "why each quarantined file was rejected (file, line, column)",
    "responses": "distinct responses (by ResponseId) in this run's files",
    "eligible": "responses that pass every eligibility rule",
    "excluded_*": "responses excluded by that rule (first failed rule counts)",
    "tokens_seen": "tokens with a response in this run's files",
    "new_tokens": "tokens never seen before",
    "collisions": "responses removed because another of the same token started earlier",
    "swaps": "published winners replaced by an earlier-started response",
    "days_touched": "`for` days whose set of winners changed",
    "last_closed_day": "the newest day whose cut-off has passed at the run's clock",
    "new_weights": "tokens with a new or better (earlier file) weight",
    "cid_lists_due": "CID lists written to the weighting partner by this run",
    "cids_listed": "tokens on those CID lists",
    "days_rebuilt": "day stores rewritten (new winners, moved or re-flagged tokens)",
    "days_rendered": "day files rendered (changed, new, forced or settings changed)",
    "days_rerendered_settings_changed": "days rendered again because what shapes values changed",
    "rows_withheld": "eligible winners not published: no weight yet (or, without weights, late)",
    "schema_changed": "the union of question columns changed (a new wave or column)",
    "columns": "question columns in the published header",
    "files_written": "files uploaded (new bytes) to the publish location",
    "files_written_names": "the names of those files",
    "days_in_files_published": "days whose file this run wrote or re-issued",
    "files_linked": "day files re-issued under today's date by a server-side link or copy",
    "bytes_uploaded": "bytes sent to the publish location",
    "rows_in_files_published": "rows in the day files this run wrote or re-issued",
    "days_reissued": "days published again with new content",
    "days_reissued_settings_changed": "of those, days re-issued because the settings changed",
    "days_skipped_never_published": "days of a backfill's range with nothing ever published "
    "(before the study's first day or after its newest): left out",
    "days_reissued_unchanged": "days re-issued under today's name with the same content "
    "(reissue: all; not a new materialization of the day)",
    "corrections": "CORRECTION entries for days changed after the stabilization window",
    "held_days": "days whose publication a failed data check held (DELAY entries)",
    "manifest": "the run manifest (runs/{recorded}_{run_id}.json) in the publish root",
    "responses_per_day": "published rows per `for` day (last 30 days)",
    "published_responses": "session responses published (consented, not previews)",
    "files": "session study files built",
    "days_rematerialized": "`for` days whose published responses changed",
    "rows": "rows in the day's published file",
    "recorded": "the `recorded` date in the day file's name",
    "sha256": "SHA-256 of the day file's bytes (as listed in SHA256SUMS)",
    "file": "the day file's name in the publish root",
}


# What every publishing step (nightly panel and session, backfill) reports.
PUBLISH_KEYS = (
    "files_written", "files_written_names", "files_linked", "bytes_uploaded",
    "rows_in_files_published", "days_in_files_published",
)  # fmt: skip


def publish_metadata(res: PublishResult) -> dict[str, Any]:
    """The :data:`PUBLISH_KEYS` of a run's publishing (the command line reads them back)."""
    return {
        "files_written": len(res.written),
        "files_written_names": MetadataValue.json(res.written),
        "files_linked": len(res.linked),
        "bytes_uploaded": res.bytes_uploaded,
        "rows_in_files_published": res.rows_published,
        "days_in_files_published": res.days_published,
    }


def warn_quarantined(
    context: AssetExecutionContext, quarantined: Iterable[Quarantined], what: str = "file"
) -> None:
    """A WARNING event for each file quarantined (or skipped, not read) by this step."""
    for q in quarantined:
        warn(context, f"{'skipped' if q.skipped else 'quarantined'} {what}: {q.error}")


def describe(summary: str, keys: Iterable[str]) -> str:
    """An asset description: ``summary``, then a legend of the metadata keys it attaches."""
    lines = [summary, "", "Metadata:"]
    lines += [f"- `{k}`: {METADATA_DOCS[k]}" for k in keys]
    return "\n".join(lines)


def warn(context: AssetExecutionContext, message: str) -> None:
    """A WARNING event on the run page (quarantined files, withheld rows, corrections)."""
    context.log.warning(message)


def hold_if_failed(ctx: RunContext, outcome: CheckOutcome, what: str) -> None:
    """A failed blocking check holds publication: a DELAY entry in OUTAGES.txt says why."""
    if not outcome.passed:
        add_outage(
            ctx, "DELAY",
            f"Publication held: the {what} check failed ({'; '.join(outcome.failures)}). "
            "The data will be published once the problem is fixed.",
            outcome.failed_days,
        )  # fmt: skip


def check_result(
    outcome: CheckOutcome, what: str, check_name: str, asset_key: Any
) -> AssetCheckResult:
    """The result of a Great Expectations suite (ERROR: a failure holds publication)."""
    return AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR,
        description=f"Great Expectations suite on the {what}",
        metadata={
            "rows_checked": outcome.evaluated,
            "failed_days": ", ".join(outcome.failed_days) or "none",
            "failures": MetadataValue.md("\n".join(f"- {f}" for f in outcome.failures) or "none"),
        },
    )


def attention(
    check_name: str, asset_key: Any, problems: Mapping[str, Any], description: str
) -> AssetCheckResult:
    """A WARN check result that passes when every count in ``problems`` is zero or empty."""
    passed = not any(problems.values())
    metadata = {
        k: (v if isinstance(v, int) else ", ".join(v) or "none") for k, v in problems.items()
    }
    return AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )


def fetch_metadata(files_listed: int, files_new: int, duplicates: int, bytes_fetched: int) -> dict:
    """What a fetch step shows in the UI (panel and session studies alike)."""
    return {
        "files_listed": files_listed,
        "files_new": files_new,
        "duplicates": duplicates,
        "bytes_fetched": bytes_fetched,
    }


def responses_chart(counts: Mapping[str, int]) -> MetadataValue:
    """A small Markdown bar chart of published rows per day (the newest 30 days)."""
    recent = sorted(counts.items())[-30:]
    if not recent:
        return MetadataValue.md("no days published")
    top = max(c for _d, c in recent) or 1
    lines = ["| day | responses | |", "|---|---:|---|"]
    lines += [f"| {d} | {c} | {'█' * max(0, round(30 * c / top))} |" for d, c in recent]
    return MetadataValue.md("\n".join(lines))
