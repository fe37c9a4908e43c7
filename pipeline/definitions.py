"""The Dagster code location: assets, jobs, schedule, sensor and resources of one study.

The study's configuration file comes from ``PIPELINE_CONFIG`` (default: the shipped demo
configuration ``config/panel.yaml``).
"""

import hashlib
import os
from pathlib import Path

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    in_process_executor,
    schedule,
    sensor,
)

from assets.checks import PANEL_CHECKS
from assets.days import DAY_ASSETS, DAY_CHECKS
from assets.operations import add_outage_job
from assets.panel import PANEL_ASSETS
from pipeline.config import load_config
from pipeline.locations import open_location
from pipeline.state.store import StateStore
from resources.study import StudyResource

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "panel.yaml"
NIGHTLY_CRON = (
    "30 5 * * *"  # 05:30 Pacific: after the 04:00 cut-off, clear of the 01:00-03:00 DST shifts
)


def config_path() -> str:
    """The study configuration this code location serves."""
    return os.environ.get("PIPELINE_CONFIG", str(DEFAULT_CONFIG))


nightly_job = define_asset_job(
    "nightly",
    selection=AssetSelection.assets(*PANEL_ASSETS),  # their checks come along
    executor_def=in_process_executor,  # stages share one run lock and run in order
    description="Ingest what is new on the drop, apply the rules, publish (one nightly run).",
)

republish_days_job = define_asset_job(
    "republish_days",
    selection=AssetSelection.assets(*DAY_ASSETS),
    description="Re-materialize and re-publish days (launch a backfill over any day range).",
)


@schedule(
    job=nightly_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="America/Los_Angeles",
    default_status=DefaultScheduleStatus.STOPPED,
)
def nightly_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    """The nightly run; its clock is the scheduled time, so a late start changes nothing."""
    as_of = context.scheduled_execution_time.isoformat()
    return RunRequest(
        run_key=f"nightly-{as_of}",
        run_config={
            "resources": {"study": {"config": {"config_path": config_path(), "as_of": as_of}}}
        },
        tags={"as_of": as_of},
    )


@sensor(job=nightly_job, minimum_interval_seconds=300, default_status=DefaultSensorStatus.STOPPED)
def source_drop_sensor(context: SensorEvaluationContext):
    """Request a run when the drop holds files (name, size, mtime) not yet ingested."""
    cfg = load_config(config_path())
    loc = open_location(cfg.source, cfg.sftp)
    try:
        listing = loc.list_files()
    finally:
        loc.close()
    store = StateStore(cfg.state)
    try:
        known = store.known_files(cfg.source)
    finally:
        store.dispose()
    new = sorted(
        (f.path, f.size, float(f.mtime))
        for f in listing
        if (f.path, f.size, float(f.mtime)) not in known
    )
    if not new:
        return SkipReason("no new or changed files on the drop")
    key = hashlib.sha256(repr(new).encode()).hexdigest()[:16]
    if key == context.cursor:
        return SkipReason("a run was already requested for these files")
    context.update_cursor(key)
    return RunRequest(
        run_key=key, tags={"trigger": "source_drop_sensor", "new_files": str(len(new))}
    )


defs = Definitions(
    assets=[*PANEL_ASSETS, *DAY_ASSETS],
    asset_checks=[*PANEL_CHECKS, *DAY_CHECKS],
    jobs=[nightly_job, republish_days_job, add_outage_job],
    schedules=[nightly_schedule],
    sensors=[source_drop_sensor],
    resources={
        "study": StudyResource(config_path=config_path()),
        "study_day": StudyResource(config_path=config_path(), shared_lock=True),
    },
)
