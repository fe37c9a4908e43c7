"""The frame data: one CSV per response in ``{study}_framedata_per_session.zip``, all of
them in ``{study}_all-frames.csv.gz``, and their dictionary ``{study}_all-frames-dict.csv``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.session.dictionaries import frames_dictionary
from pipeline.session.formats import gzip_bytes, to_csv, zip_bytes
from pipeline.session.outputs.common import Table, TableFiles, drop_birthdates, flatten
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record, frame_order, natural_key

FRAME_COLUMNS = ["response_uuid", "child_hashed_id", "frame_id", "event_number", "key", "value"]
FrameRow = tuple[str, str, str, Any, str, Any]
#: Frame keys never written (the frame's type); birth dates go too (:data:`.common.DROP_LEAF`).
FRAME_DROP_KEYS = ("frameType",)


def frame_rows(record: Record, child_hashed_id: str) -> list[FrameRow]:
    """Long-format frame data of one response (SPEC §4.3).

    Per frame in sequence order: the frame's own values (``formData.x``, ``videoId``…,
    natural order, ``event_number`` empty), then its events (``eventTimings.N.k`` gives
    ``event_number=N, key=k``); then ``global_event_timings`` as ``frame_id=global``.
    A frame whose data is not an object (jsPsych-style) is one row with an empty ``key``.
    ``frameType`` and every ``birthDate`` are not written; empty arrays/objects vanish.
    """
    uid = record["response"]["uuid"]
    exp = record["response"]["exp_data"] or {}
    rows: list[FrameRow] = []
    for fid in frame_order(record):
        frame = exp[fid]
        if not isinstance(frame, dict):
            rows.append((uid, child_hashed_id, fid, "", "", drop_birthdates(frame)))
            continue
        plain: list[tuple[str, Any]] = []
        events: list[tuple[int, str, Any]] = []
        for key, value in drop_birthdates(frame).items():
            if key in FRAME_DROP_KEYS:
                continue
            if key == "eventTimings" and isinstance(value, list):
                for number, event in enumerate(value):
                    events.extend((number, path, v) for path, v in flatten(event))
            else:
                plain.extend(flatten(value, key))
        plain.sort(key=lambda p: natural_key(p[0]))
        events.sort(key=lambda e: (e[0], natural_key(e[1])))
        rows.extend((uid, child_hashed_id, fid, "", path, v) for path, v in plain)
        rows.extend((uid, child_hashed_id, fid, n, path, v) for n, path, v in events)
    for number, event in enumerate(
        drop_birthdates(record["response"]["global_event_timings"]) or []
    ):
        pairs = sorted(flatten(event), key=lambda p: natural_key(p[0]))
        rows.extend((uid, child_hashed_id, "global", number, path, v) for path, v in pairs)
    return rows


def frame_files(records: Sequence[Record], settings: StudySettings) -> TableFiles:
    """The per-session ZIP, the gzipped CSV of all rows and the dictionary (roles
    ``framedata_zip``, ``all_frames_gz``, ``frames_dict``); the table is the CSV of all
    rows, uncompressed."""
    entries, all_rows = {}, []
    for record in records:
        rows = frame_rows(record, settings.hashed(record["child"]["global_id"]))
        all_rows.extend(rows)
        entries[f"{settings.slug}_{record['response']['uuid']}_frames.csv"] = to_csv(
            FRAME_COLUMNS, rows
        )
    table = Table.write(FRAME_COLUMNS, all_rows)
    return TableFiles(
        table,
        {
            "framedata_zip": zip_bytes(entries),
            "all_frames_gz": gzip_bytes(table.data),
            "frames_dict": frames_dictionary(all_rows, FRAME_COLUMNS),
        },
    )
