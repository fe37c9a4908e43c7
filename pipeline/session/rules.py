"""Which session responses publish, withdrawn video, and the `for` day (SPEC §4.1, §4.2)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from pipeline.config import DEFAULT_TIMEZONE
from pipeline.session.ages import parse_timestamp
from pipeline.session.records import Record, Ruling, Video, frame_data, frame_order

#: Exclusion reasons, in the order they are tested.
REASONS = ("preview", "no_consent_frame", "no_ruling", "pending", "rejected")

_FALSE_WORDS = {"", "0", "false", "no", "n", "off", "none", "null"}


def for_day(record: Record, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The `for` day of a response: the date of ``response.date_created`` in ``timezone``."""
    return parse_timestamp(record["response"]["date_created"]).astimezone(ZoneInfo(timezone)).date()


def is_exit_frame(frame_id: str, frame: Any) -> bool:
    """An exit frame: ``frameType == "EXIT"``; a frame without ``frameType`` whose id
    contains ``exit`` (older exports, as in the platform's documentation) counts too.
    Frame data that is not an object (jsPsych-style) is never an exit frame."""
    if not isinstance(frame, Mapping):
        return False
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
    """The exit frames of a response's frame data (:func:`pipeline.session.records.frame_data`)
    as ``(frame_id, frame)``, in the order the participant saw them
    (:func:`pipeline.session.records.frame_order`)."""
    exp = frame_data(record["response"])
    return [(fid, exp[fid]) for fid in frame_order(record) if is_exit_frame(fid, exp[fid])]


def exit_value(record: Record, key: str) -> Any:
    """``key`` of the **last** exit frame, as the platform reads the exit survey (a parent
    who answers it twice means the second answer); None without an exit frame."""
    frames = exit_frames(record)
    return frames[-1][1].get(key) if frames else None


def is_withdrawn(record: Record) -> bool:
    """True when the last exit frame has a truthy ``withdrawal``: only consent video may be
    listed."""
    return truthy(exit_value(record, "withdrawal"))


def is_consent_video(video: Video, record: Record) -> bool:
    """A consent video: named ``consent-videoStream_…``, or recorded during a frame whose
    ``frameType`` is ``CONSENT`` in this response (never guessed from the frame name)."""
    if video.consent_prefix:
        return True
    frame = frame_data(record["response"]).get(video.frame_id)
    return isinstance(frame, Mapping) and str(frame.get("frameType", "")).upper() == "CONSENT"


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


class ListedVideo(NamedTuple):
    """A video that may be listed, with whether it is a consent video."""

    video: Video
    is_consent: bool


def listed_videos(
    videos: Iterable[Video], published: Iterable[Record], study_uuid: str | None = None
) -> list[ListedVideo]:
    """Videos that may be listed: of a published response (and of this study), and only
    consent videos (:func:`is_consent_video`) when the response withdrew video. Unique by
    file name, sorted by response UUID, recording time, file name."""
    by_uuid = {r["response"]["uuid"]: r for r in published}
    withdrawn = {uid for uid, r in by_uuid.items() if is_withdrawn(r)}
    study = study_uuid.lower() if study_uuid else None
    keep: dict[str, ListedVideo] = {}
    for video in videos:
        record = by_uuid.get(video.response_uuid)
        if record is None:
            continue
        if study is not None and video.study_uuid != study:
            continue
        consent = is_consent_video(video, record)
        if video.response_uuid in withdrawn and not consent:
            continue
        keep[video.video_file] = ListedVideo(video, consent)
    return sorted(
        keep.values(),
        key=lambda v: (v.video.response_uuid, v.video.epoch_ms, v.video.video_file),
    )
