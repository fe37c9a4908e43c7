"""Runs of a study's Dagster jobs for the command line (``python -m pipeline run|backfill|
rebuild``): the same jobs the schedule runs, executed in-process. With ``DAGSTER_HOME`` set
the runs, their materializations and day partitions are recorded in that instance."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from dagster import AssetKey, DagsterInstance

from assets.definitions import study_definitions
from assets.panel import DAY_FILE
from assets.study import load_study

# Dagster's run tags for a run over a partition range (what a single-run backfill sets).
RANGE_START_TAG, RANGE_END_TAG = (
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
)


@dataclass
class RunSummary:
    """What a command-line run published, for its one-paragraph report."""

    written: list[str] = field(default_factory=list)
    linked: int = 0
    rows: int = 0
    days: int = 0


def _instance() -> DagsterInstance:
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def run_study(
    config_path: str, resource_config: dict[str, Any], days: tuple[str, str] | None = None
) -> RunSummary:
    """Run the study's nightly job (or, with ``days``, re-publish that range) in-process."""
    study = load_study(config_path)
    defs = study_definitions(study)
    run_config = {
        "resources": {study.resource_key: {"config": resource_config}},
        "loggers": {
            "console": {"config": {"log_level": os.environ.get("PIPELINE_LOG_LEVEL", "CRITICAL")}}
        },
    }
    if days is None:
        job_name, tags = study.job_name, {}
        node = study.published_asset
    else:
        # the partitions begin at the study's first day: nothing before it was published
        day_file = defs.resolve_assets_def(AssetKey([study.name, DAY_FILE]))
        start = day_file.partitions_def.get_first_partition_key()
        first = max(days[0], start or days[1])
        if start is None or first > days[1]:  # nothing published in the range
            return RunSummary()
        job_name, tags = f"{study.name}_days", {RANGE_START_TAG: first, RANGE_END_TAG: days[1]}
        node = DAY_FILE
    with _instance() as instance:
        result = defs.resolve_job_def(job_name).execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=True, tags=tags
        )
    events = result.asset_materializations_for_node(f"{study.name}__{node}")
    # the step records day partitions too: take the published files' event (a backfill
    # records its totals there)
    event = next(e for e in events if e.asset_key.path[-1] == study.published_asset)
    md = {k: v.value for k, v in event.metadata.items()}
    return RunSummary(
        list(md["files_written_names"]), int(md["files_linked"]),
        int(md["rows_in_files_published"]), int(md["days_in_files_published"]),
    )  # fmt: skip
