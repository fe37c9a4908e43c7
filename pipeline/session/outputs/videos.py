"""The video list ``{study}_videos.csv``: the published responses' videos (after a
withdrawal, only the consent videos)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pipeline.session.formats import platform_datetime, to_csv
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record, Video
from pipeline.session.rules import listed_videos

VIDEO_COLUMNS = ["video_file", "response_uuid", "frame_id", "timestamp", "is_consent"]


def videos_csv(
    videos: Iterable[Video], records: Sequence[Record], settings: StudySettings
) -> bytes:
    """The CSV of ``videos`` filtered again (:func:`pipeline.session.rules.listed_videos`):
    only videos of ``records`` and this study, consent videos only after a withdrawal
    (role ``videos_csv``)."""
    shown = listed_videos(videos, records, settings.study_uuid)
    return to_csv(
        VIDEO_COLUMNS,
        (
            (
                v.video.video_file,
                v.video.response_uuid,
                v.video.frame_id,
                platform_datetime(v.video.recorded_at),
                v.is_consent,
            )
            for v in shown
        ),  # fmt: skip
    )
