"""Operator tools in Dagster: add an OUTAGES entry from the UI (a job with run config)."""

import enum

from dagster import AssetKey, AssetMaterialization, JobDefinition, OpExecutionContext, job, op
from dagster import Config as DagsterConfig

from assets.study import Study
from pipeline.operations import add_outage


class OutageKind(enum.Enum):
    """The kinds of OUTAGES entries (an enum: the Launchpad refuses a typo before launch)."""

    DELAY = "DELAY"
    CORRECTION = "CORRECTION"
    NOTICE = "NOTICE"


class OutageConfig(DagsterConfig):
    """Run config of a study's ``add_outage`` job."""

    kind: OutageKind = OutageKind.NOTICE
    message: str
    days: list[str] = []


def outage_job(study: Study) -> JobDefinition:
    """``{study}_add_outage``: an operator's entry on top of the study's OUTAGES.txt."""
    rkey = study.resource_key
    published = study.published_asset

    @op(
        name=f"{study.name}_add_outage_entry",
        required_resource_keys={rkey},
        description="Append an entry to OUTAGES.txt (newest first) and republish the file.",
    )
    def add_outage_entry(context: OpExecutionContext, config: OutageConfig) -> None:
        ctx = getattr(context.resources, rkey).ctx
        text = add_outage(ctx, config.kind.value, config.message, config.days)
        context.log.info(text.splitlines()[4] if len(text.splitlines()) > 4 else text)
        # the published files changed (OUTAGES.txt, SHA256SUMS): an event of their asset
        context.log_event(
            AssetMaterialization(
                asset_key=AssetKey([study.name, published]),
                description=f"{config.kind.value} entry added to OUTAGES.txt by an operator",
                metadata={"outages_entry": config.kind.value, "days": ", ".join(config.days)},
            )
        )

    @job(
        name=f"{study.name}_add_outage",
        description="Operator entry in OUTAGES.txt (kind DELAY, CORRECTION or NOTICE).",
    )
    def add_outage_job() -> None:
        add_outage_entry()

    return add_outage_job
