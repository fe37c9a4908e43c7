"""The Dagster code location: every study's assets, jobs, schedule, sensor and resources.

Which studies: see :mod:`assets.study` (``PIPELINE_STUDIES`` folder, or ``PIPELINE_CONFIG``).
An invalid study configuration fails loading (and ``dagster definitions validate``) with
the file and the reason.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from datetime import timedelta
from pathlib import Path

import yaml
from dagster import (
    AssetChecksDefinition,
    AssetKey,
    AssetSelection,
    BetaWarning,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    ExecutorDefinition,
    JobDefinition,
    PreviewWarning,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    SupersessionWarning,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    define_asset_job,
    schedule,
    sensor,
)

from assets.alerts import ALERT_SENSORS
from assets.days import day_file_asset
from assets.io import StageIOManager
from assets.operations import outage_job
from assets.panel import DAY_FILE, panel_assets
from assets.session import session_assets
from assets.study import Study, load_studies
from pipeline.config import ConfigError
from pipeline.locations import open_location
from pipeline.state.store import StateStore
from resources.study import StudyResource

warnings.filterwarnings("ignore", category=PreviewWarning)
warnings.filterwarnings("ignore", category=BetaWarning)
# Freshness checks (SPEC §7 asks for checks): Dagster 1.13 prefers freshness policies, which
# only its daemon evaluates; checks run in any job and in tests.
warnings.filterwarnings("ignore", category=SupersessionWarning)


def nightly_job(study: Study, freshness: list[AssetChecksDefinition]) -> JobDefinition:
    """``{study}_nightly``: ingest what is new, apply the rules, publish (multiprocess).
    The freshness checks are not part of it: their sensor evaluates them."""
    selection = AssetSelection.groups(study.name) - AssetSelection.checks(*freshness)
    if study.cfg.kind == "panel":  # the day partitions are published by the stages
        selection = selection - AssetSelection.assets(AssetKey([study.name, DAY_FILE]))
    return define_asset_job(
        study.job_name,
        selection=selection,  # their checks come along
        description=f"{study.name}: ingest what is new on the drop, apply the rules, publish.",
    )


def nightly_schedule(study: Study, job: JobDefinition) -> ScheduleDefinition:
    """The nightly run, 90 minutes after the study's cut-off in its time zone."""

    @schedule(
        name=f"{study.name}_nightly_schedule",
        job=job,
        cron_schedule=study.nightly_cron,
        execution_timezone=study.cfg.timezone,
        default_status=DefaultScheduleStatus.STOPPED,
    )
    def nightly(context: ScheduleEvaluationContext) -> RunRequest:
        """Its clock is the scheduled time, so a late start changes nothing."""
        as_of = context.scheduled_execution_time.isoformat()
        config = {"config_path": study.config_path, "as_of": as_of}
        return RunRequest(
            run_key=f"nightly-{as_of}",
            run_config={"resources": {study.resource_key: {"config": config}}},
            tags={"as_of": as_of, "study": study.name},
        )

    return nightly


def source_sensor(study: Study, job: JobDefinition) -> SensorDefinition:
    """A run when the study's drop holds files (name, size, mtime) not yet ingested."""

    @sensor(
        name=f"{study.name}_source_sensor",
        job=job,
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.STOPPED,
    )
    def watch(context: SensorEvaluationContext):
        cfg = study.cfg
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
            run_key=key,
            tags={"trigger": watch.name, "new_files": str(len(new)), "study": study.name},
        )

    return watch


FRESHNESS_MARGIN_MINUTES = 60  # after the schedule's start, before the files count as late


def freshness_checks(study: Study) -> list[AssetChecksDefinition]:
    """The study's published files are late when the nightly run has not updated them in
    the 24 hours before the deadline: the cut-off, plus the schedule's 90 minutes, plus
    :data:`FRESHNESS_MARGIN_MINUTES`, daily in the study's time zone (a WARN check, evaluated
    by the study's freshness sensor)."""
    published = study.published_asset
    minutes = study.cfg.rules.cutoff_hour * 60 + 90 + FRESHNESS_MARGIN_MINUTES
    return list(
        build_last_update_freshness_checks(
            assets=[AssetKey([study.name, published])],
            lower_bound_delta=timedelta(hours=24),
            deadline_cron=f"{minutes % 60} {minutes // 60 % 24} * * *",
            timezone=study.cfg.timezone,
        )
    )


EXECUTOR_ENV = "PIPELINE_EXECUTOR"  # "celery": every job's steps go to Celery workers
CELERY_CONFIG_ENV = "PIPELINE_CELERY_CONFIG"  # its settings (default: deploy/celery.yaml)
DEFAULT_CELERY_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "celery.yaml"


def executor() -> ExecutorDefinition | None:
    """The executor of every job, chosen by the deployment (SPEC §7): Dagster's default
    (multiprocess; the command line runs in-process) unless ``PIPELINE_EXECUTOR=celery``,
    then ``dagster_celery``'s executor with the broker and settings of the file in
    ``PIPELINE_CELERY_CONFIG`` (its ``execution.config`` block; the workers are started
    with the same file). An unknown value fails loading, naming the variable."""
    choice = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    if choice in ("", "default", "multiprocess"):
        return None
    if choice != "celery":
        raise ConfigError(f"{EXECUTOR_ENV}={choice!r}: use celery, or leave it unset")
    return _celery_executor(os.environ.get(CELERY_CONFIG_ENV) or str(DEFAULT_CELERY_CONFIG))


@functools.cache  # one definition for all studies: Definitions.merge wants the same one
def _celery_executor(config: str) -> ExecutorDefinition:
    from dagster_celery import celery_executor

    path = Path(config)
    try:
        settings = yaml.safe_load(path.read_text())["execution"]["config"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: no execution.config block ({exc.__class__.__name__})") from None
    return celery_executor.configured(settings, name="celery")


def study_definitions(study: Study) -> Definitions:
    """One study's assets, checks, jobs, schedule, sensor and resource."""
    if study.cfg.kind == "panel":
        assets = [*panel_assets(study), day_file_asset(study)]
        jobs = [days_job(study)]
    else:
        assets, jobs = session_assets(study), []
    fresh = freshness_checks(study)
    job = nightly_job(study, fresh)
    freshness_sensor = build_sensor_for_freshness_checks(
        freshness_checks=fresh, name=f"{study.name}_freshness_sensor",
        default_status=DefaultSensorStatus.RUNNING,
    )  # fmt: skip
    return Definitions(
        assets=assets,
        asset_checks=fresh,
        jobs=[job, outage_job(study), *jobs],
        schedules=[nightly_schedule(study, job)],
        sensors=[source_sensor(study, job), freshness_sensor],
        resources={
            study.resource_key: StudyResource(config_path=study.config_path),
            study.io_manager_key: StageIOManager(work_dir=str(study.cfg.work_dir)),
        },
        executor=executor(),
    )


def days_job(study: Study) -> JobDefinition:
    """``{study}_days``: re-render and re-publish a range of days (one run per range)."""
    return define_asset_job(
        f"{study.name}_days",
        selection=AssetSelection.assets(AssetKey([study.name, DAY_FILE])),
        description=f"{study.name}: re-render, check and re-publish a range of days.",
    )


def build_definitions(studies: list[Study]) -> Definitions:
    """The code location of ``studies``, with the run-failure alert for all of them."""
    return Definitions.merge(
        *(study_definitions(s) for s in studies), Definitions(sensors=ALERT_SENSORS)
    )


defs = build_definitions(load_studies())
