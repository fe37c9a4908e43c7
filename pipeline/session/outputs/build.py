"""All published files of a session study at once (SPEC §4.3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipeline.session.outputs.children import children_files
from pipeline.session.outputs.common import response_order
from pipeline.session.outputs.demographics import demographic_files
from pipeline.session.outputs.frames import frame_files
from pipeline.session.outputs.overview import overview_files
from pipeline.session.outputs.psychds_dataset import psychds_file
from pipeline.session.outputs.responses_json import responses_json_file
from pipeline.session.outputs.settings import StudySettings, output_names
from pipeline.session.outputs.videos import videos_csv
from pipeline.session.records import Record, Ruling, Video, merge_records


def build_outputs(
    records: Iterable[Record],
    settings: StudySettings,
    rulings: Mapping[str, Ruling],
    videos: Iterable[Video] = (),
) -> dict[str, bytes]:
    """Every published file of SPEC §4.3, file name → bytes.

    ``records`` are the published responses (:func:`pipeline.session.rules.select_published`);
    duplicates are merged and rows ordered by ``response.id``, as the platform orders them
    (:func:`.common.response_order`). ``rulings`` maps
    response UUID to the ruling in force. ``videos`` are filtered again here: only videos
    of these responses and this study, consent videos only after a withdrawal.
    """
    ordered = sorted(merge_records(records), key=response_order)
    overview = overview_files(ordered, settings, rulings)
    frames = frame_files(ordered, settings)
    children = children_files(ordered, settings, rulings)
    demographics = demographic_files(ordered, settings)
    by_role = {  # in this order, as published so far
        **overview.files,
        "responses_json": responses_json_file(ordered, settings, rulings),
        **frames.files,
        **children.files,
        **demographics.files,
        "videos_csv": videos_csv(videos, ordered, settings),
        "psychds_zip": psychds_file(
            settings, overview.table, children.table, demographics.table, frames.table
        ),
    }
    names = output_names(settings)
    return {names[role]: data for role, data in by_role.items()}
