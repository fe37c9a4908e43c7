"""The Dagster code location: assets, jobs, schedule, sensor and resources of one study.

The study's configuration file comes from ``PIPELINE_CONFIG`` (default: the shipped demo
configuration ``config/panel.yaml``); its ``kind`` (panel or session) picks the assets.
"""

import hashlib
import os
import warnings
from functools import cache
from pathlib import Path

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    PreviewWarning,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    in_process_executor,
    schedule,
    sensor,
)

warnings.filterwarnings("ignore", category=PreviewWarning)  # partitioned asset checks

from assets.checks import PANEL_CHECKS  # noqa: E402
from assets.days import DAY_ASSETS, DAY_CHECKS  # noqa: E402
from assets.operations import add_outage_job  # noqa: E402
from assets.panel import PANEL_ASSETS  # noqa: E402
from assets.session import SESSION_ASSETS, SESSION_CHECKS  # noqa: E402
from pipeline.config import ConfigError, load_config  # noqa: E402
from pipeline.locations import open_location  # noqa: E402
from pipeline.state.store import StateStore  # noqa: E402
from resources.study import StudyResource  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "panel.yaml"
NIGHTLY_CRON = "30 5 * * *"  # 05:30 Pacific: after the 04:00 cut-off, clear of the DST shifts


def config_path() -> str:
    """The study configuration this code location serves."""
    return os.environ.get("PIPELINE_CONFIG", str(DEFAULT_CONFIG))


def study_kind(path: str) -> str:
    """``panel`` or ``session`` from the configuration file (panel when it cannot be read)."""
    try:
        return load_config(path).kind
    except ConfigError:
        return "panel"


def _nightly_job(kind: str):
    assets = PANEL_ASSETS if kind == "panel" else SESSION_ASSETS
    return define_asset_job(
        "nightly",
        selection=AssetSelection.assets(*assets),  # their checks come along
        executor_def=in_process_executor,  # stages share one run lock and run in order
        description="Ingest what is new on the drop, apply the rules, publish (one nightly run).",
    )


def _schedule(job):
    @schedule(
        job=job,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone="America/Los_Angeles",
        default_status=DefaultScheduleStatus.STOPPED,
    )
    def nightly_schedule(context: ScheduleEvaluationContext) -> RunRequest:
        """The nightly run; its clock is the scheduled time, so a late start changes nothing."""
        as_of = context.scheduled_execution_time.isoformat()
        config = {"config_path": config_path(), "as_of": as_of}
        return RunRequest(
            run_key=f"nightly-{as_of}",
            run_config={"resources": {"study": {"config": config}}},
            tags={"as_of": as_of},
        )

    return nightly_schedule


def _sensor(job):
    @sensor(job=job, minimum_interval_seconds=300, default_status=DefaultSensorStatus.STOPPED)
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

    return source_drop_sensor


@cache
def build_definitions(kind: str, path: str) -> Definitions:
    """Definitions for a study of ``kind`` configured by the file at ``path``."""
    nightly = _nightly_job(kind)
    resources = {"study": StudyResource(config_path=path)}
    if kind == "panel":
        assets, checks = [*PANEL_ASSETS, *DAY_ASSETS], [*PANEL_CHECKS, *DAY_CHECKS]
        jobs = [
            nightly,
            define_asset_job(
                "republish_days",
                selection=AssetSelection.assets(*DAY_ASSETS),
                description="Re-materialize and re-publish days (backfill any day range).",
            ),
            add_outage_job,
        ]
        resources["study_day"] = StudyResource(config_path=path, shared_lock=True)
    else:
        assets, checks, jobs = SESSION_ASSETS, SESSION_CHECKS, [nightly, add_outage_job]
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        schedules=[_schedule(nightly)],
        sensors=[_sensor(nightly)],
        resources=resources,
    )


defs = build_definitions(study_kind(config_path()), config_path())
