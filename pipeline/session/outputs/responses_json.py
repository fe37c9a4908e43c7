"""The nested responses ``{study}_all-responses[-identifiable].json``: the overview's
fields plus the frame data, one object per response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.session.formats import to_json
from pipeline.session.outputs.common import canonical, drop_birthdates
from pipeline.session.outputs.response_fields import response_sections
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record, Ruling, frame_order


def _select(section: str, values: Mapping[str, Any], settings: StudySettings) -> dict[str, Any]:
    return {k: v for k, v in values.items() if settings.allows(f"{section}__{k}")}


def responses_json(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> list[dict[str, Any]]:
    """The response records nested as published (same fields as the overview CSV, plus
    ``exp_data`` and ``global_event_timings`` filtered like the frame data)."""
    out = []
    for record in records:
        sections = response_sections(record, settings, rulings.get(record["response"]["uuid"]))
        nested = {name: _select(name, values, settings) for name, values in sections.items()}
        exp = record["response"]["exp_data"] or {}
        nested["response"]["exp_data"] = {
            fid: canonical(drop_birthdates(exp[fid])) for fid in frame_order(record)
        }
        nested["response"]["global_event_timings"] = canonical(
            drop_birthdates(record["response"]["global_event_timings"] or [])
        )
        out.append(nested)
    return out


def responses_json_file(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> bytes:
    """The JSON file's bytes (role ``responses_json``)."""
    return to_json(responses_json(records, settings, rulings))
