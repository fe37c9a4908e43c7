"""Per-day partitions of a panel study (its time zone): the published day files.

Every nightly run records the days it publishes or re-issues as materializations of this
asset's partitions, so the partitions view shows what researchers can download. A backfill
of any day range (select the one ``day_file`` asset in the UI, pick the range, Materialize;
or ``dagster asset materialize --select {study}/day_file --partition-range A...B``,
``python -m pipeline backfill``) runs as ONE run: every day is
rendered from its store, checked (one Great Expectations suite for all of them), published
with the run's `recorded` date (linked when unchanged), and SHA256SUMS, the cumulative file
and a run manifest are written at once.
"""

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    BackfillPolicy,
    DailyPartitionsDefinition,
    asset,
)

from assets.panel import DAY_FILE, SFTP_POOL
from assets.retries import retry_transient
from assets.signals import check_result, describe, publish_metadata, warn
from assets.study import Study
from pipeline.context import RunContext
from pipeline.panel.republish import republish_days
from pipeline.state.engine import first_published_day


def first_partition_day(study: Study) -> str:
    """The first day of the study's partitions (SPEC §7): its ``first_day`` setting, else the
    first day its state has published, else today in its time zone (a new study). Days
    published before the partitions' start (data older than ``first_day``) are still recorded
    and show once the start is moved."""
    if study.cfg.first_day is not None:
        return study.cfg.first_day.isoformat()
    known = first_published_day(study.cfg.state)
    return known or datetime.now(ZoneInfo(study.cfg.timezone)).date().isoformat()


def day_partitions_def(study: Study) -> DailyPartitionsDefinition:
    """Daily partitions in the study's time zone; a day's partition exists once it ended."""
    return DailyPartitionsDefinition(
        start_date=first_partition_day(study), timezone=study.cfg.timezone, end_offset=0
    )


def days_as_they_are(
    ctx: RunContext, key: AssetKey, days: list[str], run_id: str
) -> list[AssetMaterialization]:
    """The published file of each of ``days`` as it stands (same rows, `recorded` date,
    SHA-256 and name as its last materialization), for a run that failed before publishing;
    days never published get none. Empty when the state cannot be read (the run's own error
    says why)."""
    try:
        rows = ctx.store.days()
        wanted = [rows[d]["published_name"] for d in days if rows.get(d, {}).get("published_name")]
        files = ctx.store.published(wanted)
    except Exception:  # noqa: BLE001 - the run fails with its own error in any case
        return []
    out = []
    for day in days:
        row = rows.get(day, {})
        f = files.get(row.get("published_name") or "")
        if f is None:
            continue
        out.append(AssetMaterialization(
            asset_key=key, partition=day,
            description=f"{f['name']}: unchanged, the run {run_id} failed before publishing",
            metadata={"rows": int(row.get("rows") or 0), "file": f["name"], "sha256": f["sha256"],
                      "recorded": str(row.get("published_recorded") or f["recorded"]),
                      "job": "unchanged (the run failed)"},
        ))  # fmt: skip
    return out


def day_file_asset(study: Study) -> AssetsDefinition:
    """The study's partitioned ``day_file`` asset (backfills run as one run per range)."""
    rkey, key = study.resource_key, AssetKey([study.name, DAY_FILE])

    @asset(
        key=key, group_name=study.name, pool=SFTP_POOL, required_resource_keys={rkey},
        **study.asset_meta("csv", "sftp"),
        partitions_def=day_partitions_def(study),
        backfill_policy=BackfillPolicy.single_run(),
        output_required=False,  # each day is materialized on its own, with its own metadata
        check_specs=[
            AssetCheckSpec("day_file_valid", asset=key, blocking=True,
                           description="GE suite on the re-rendered days: header, one row "
                           "per respondent, day, weights (a failing day is held)."),
        ],
        description=describe(
            "The published file of each `for` day (newest `recorded` version).",
            ["rows", "recorded", "sha256", "file"],
        ),
    )  # fmt: skip
    @retry_transient(rkey)
    def day_file(
        context: AssetExecutionContext,
    ) -> Iterator[AssetMaterialization | AssetCheckResult]:
        ctx = getattr(context.resources, rkey).ctx
        days = sorted(context.partition_keys)
        try:
            res, outcome = republish_days(ctx, days)
        except Exception:
            # Dagster marks the partitions of a failed run Failed unless the run materialized
            # them; these days' files are still out as they were: say so, then fail the run
            # (its status and message carry the failure).
            yield from days_as_they_are(ctx, key, days, context.run.run_id)
            raise
        if res.held_days:
            warn(context, f"publication held for {res.held_days}: a data check failed")
        if res.skipped_days:
            warn(context, f"{len(res.skipped_days)} day(s) of the range were never published "
                          "(no data): left out")  # fmt: skip
        # Each published day its own materialization (its file, rows, `recorded`, SHA-256);
        # held and never-published days get none, so their partitions stay as they were.
        for day, f in sorted(res.day_files.items()):
            yield AssetMaterialization(
                asset_key=key, partition=day,
                description=f"{f.name}, re-published by a backfill ({study.name}_days)",
                metadata={"rows": f.rows, "recorded": f.recorded, "sha256": f.sha256,
                          "file": f.name, "job": f"{study.name}_days"},
            )  # fmt: skip
        # the run's totals: the published files changed (SHA256SUMS, cumulative, manifest)
        yield AssetMaterialization(
            asset_key=AssetKey([study.name, "published_files"]),
            description=f"backfill of {len(res.day_files)} day(s) ({study.name}_days)",
            metadata={
                **publish_metadata(res),
                "held_days": len(res.held_days),
                "days_skipped_never_published": len(res.skipped_days),
                "manifest": res.manifest,
            },
        )
        yield check_result(outcome, "re-rendered days", "day_file_valid", key)

    return day_file
