"""The Psych-DS dataset ``{study}--psychds.zip``: the overview, children, demographics and
frame-data tables repackaged (:mod:`pipeline.session.psychds`)."""

from __future__ import annotations

from pipeline.session.dictionaries import DEMOGRAPHIC_DESCRIPTIONS
from pipeline.session.outputs.common import Table
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.psychds import DataFile, psychds_zip


def psychds_file(
    settings: StudySettings, responses: Table, children: Table, demographics: Table, frames: Table
) -> bytes:
    """The dataset's ZIP (role ``psychds_zip``) of the four written tables."""
    ident = settings.identifiable
    return psychds_zip(
        settings.study_name,
        settings.study_uuid,
        [
            DataFile("responses", responses.columns, responses.data, "one row per response", ident),
            DataFile("children", children.columns, children.data, "one row per child", ident),
            DataFile(
                "demographics",
                demographics.columns,
                demographics.data,
                "one row per response: the family's demographic snapshot at that time",
                descriptions=DEMOGRAPHIC_DESCRIPTIONS,
            ),  # fmt: skip
            DataFile("frames", frames.columns, frames.data, "frame data, one row per value"),
        ],
    )
