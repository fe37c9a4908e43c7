"""Operator tools in Dagster: add an OUTAGES entry from the UI (a job with run config)."""

from dagster import Config as DagsterConfig
from dagster import OpExecutionContext, job, op

from pipeline.operations import add_outage
from resources.study import StudyResource


class OutageConfig(DagsterConfig):
    """Run config of the ``add_outage`` job."""

    kind: str = "NOTICE"
    message: str
    days: list[str] = []


@op(description="Append an entry to OUTAGES.txt (newest first) and republish the file.")
def add_outage_entry(
    context: OpExecutionContext, config: OutageConfig, study: StudyResource
) -> None:
    text = add_outage(study.ctx, config.kind, config.message, config.days)
    context.log.info(text.splitlines()[4] if len(text.splitlines()) > 4 else text)


@job(description="Operator entry in OUTAGES.txt (kind DELAY, CORRECTION or NOTICE).")
def add_outage_job() -> None:
    add_outage_entry()
