"""Which session responses publish, withdrawn video, and the `for` day (SPEC §4.1, §4.2)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.session.ages import parse_timestamp
from pipeline.session.records import Record, Ruling, Video

DEFAULT_TIMEZONE = "America/Los_Angeles"

#: Exclusion reasons, in the order they are tested.
REASONS = ("preview", "no_consent_frame", "no_ruling", "pending", "rejected")

_FALSE_WORDS = {"", "0", "false", "no", "n", "off", "none", "null"}


def for_day(record: Record, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The `for` day of a response: the date of ``response.date_created`` in ``timezone``."""
    return parse_timestamp(record["response"]["date_created"]).astimezone(ZoneInfo(timezone)).date()


def is_exit_frame(frame_id: str, frame: Mapping[str, Any]) -> bool:
    """An exit frame: ``frameType == "EXIT"``; a frame without ``frameType`` whose id
    contains ``exit`` (older exports, as in the platform's documentation) counts too."""
    frame_type = frame.get("frameType")
    if frame_type is None:
        return "exit" in frame_id.lower()
    return str(frame_type).upper() == "EXIT"


def truthy(value: Any) -> bool:
    """JSON truthiness, reading the strings "false", "0", "no" and "" as false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    return bool(value)


def exit_frames(record: Record) -> list[tuple[str, dict[str, Any]]]:
    """The exit frames of a response's ``exp_data``, as ``(frame_id, frame)``."""
    exp = record["response"]["exp_data"] or {}
    return [(fid, frame) for fid, frame in exp.items() if is_exit_frame(fid, frame)]


def is_withdrawn(record: Record) -> bool:
    """True when an exit frame has a truthy ``withdrawal``: only consent video may be listed."""
    return any(truthy(frame.get("withdrawal")) for _, frame in exit_frames(record))


def exclusion_reason(
    record: Record, ruling: Ruling | None, include_preview: bool = False
) -> str | None:
    """Why a response does not publish (one of :data:`REASONS`), or None when it does."""
    response = record["response"]
    if response["is_preview"] and not include_preview:
        return "preview"
    if not response["completed_consent_frame"]:
        return "no_consent_frame"
    if ruling is None:
        return "no_ruling"
    if ruling.action != "accepted":
        return ruling.action
    return None


@dataclass
class Selection:
    """Published responses and the count of excluded ones by reason."""

    published: list[Record] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, str] = field(default_factory=dict)  # response uuid -> reason


def select_published(
    records: Iterable[Record], rulings: Mapping[str, Ruling], include_preview: bool = False
) -> Selection:
    """Responses that publish: consent frame completed and the newest ruling ``accepted``;
    previews excluded unless ``include_preview``. ``rulings`` maps response UUID to the
    ruling in force (:func:`pipeline.session.records.newest_rulings`). Input order kept."""
    selection = Selection()
    for record in records:
        uid = record["response"]["uuid"]
        reason = exclusion_reason(record, rulings.get(uid), include_preview)
        if reason is None:
            selection.published.append(record)
        else:
            selection.excluded[reason] += 1
            selection.reasons[uid] = reason
    return selection


def listed_videos(
    videos: Iterable[Video], published: Iterable[Record], study_uuid: str | None = None
) -> list[Video]:
    """Videos that may be listed: of a published response (and of this study), and only
    consent videos when the response withdrew video. Unique by file name, sorted by
    response UUID, recording time, file name."""
    by_uuid = {r["response"]["uuid"]: r for r in published}
    withdrawn = {uid for uid, r in by_uuid.items() if is_withdrawn(r)}
    study = study_uuid.lower() if study_uuid else None
    keep: dict[str, Video] = {}
    for video in videos:
        if video.response_uuid not in by_uuid:
            continue
        if study is not None and video.study_uuid != study:
            continue
        if video.response_uuid in withdrawn and not video.is_consent:
            continue
        keep[video.video_file] = video
    return sorted(keep.values(), key=lambda v: (v.response_uuid, v.epoch_ms, v.video_file))
