"""The frame data: one CSV per response in ``{study}_framedata_per_session.zip``, all of
them in ``{study}_all-frames.csv.gz``, and their dictionary ``{study}_all-frames-dict.csv``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.session.dictionaries import frames_dictionary
from pipeline.session.formats import gzip_bytes, platform_csv, zip_bytes
from pipeline.session.outputs.common import Table, TableFiles, drop_birthdates, flatten
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record, frame_data

FRAME_COLUMNS = ["response_uuid", "child_hashed_id", "frame_id", "event_number", "key", "value"]
FrameRow = tuple[str, str, str, str, str, Any]
#: Frame keys never written (the frame's type); birth dates go too (:data:`.common.DROP_LEAF`).
FRAME_DROP_KEYS = ("frameType",)
EVENTS_PREFIX = "eventTimings."
#: Written only when it holds something.
GENERATED = "generatedProperties"


def _frame_rows(uid: str, hashed: str, fid: str, frame: Any) -> list[FrameRow]:
    """The rows of one frame's data, keys in the record's order."""
    if not isinstance(frame, dict):
        return [(uid, hashed, fid, "", "", drop_birthdates(frame))]
    rows: list[FrameRow] = []
    for key, value in flatten(drop_birthdates(frame)).items():
        if key.startswith(EVENTS_PREFIX):
            parts = key.split(".")
            rows.append((uid, hashed, fid, parts[1], ".".join(parts[2:]), value))
        elif key in FRAME_DROP_KEYS or (key == GENERATED and not value):
            continue
        else:
            rows.append((uid, hashed, fid, "", key, value))
    return rows


def frame_rows(record: Record, child_hashed_id: str) -> list[FrameRow]:
    """Long-format frame data of one response, in the platform's order (SPEC §4.3).

    First the global events (``frame_id=global``, ``event_number`` from ``"0"``, each
    event's keys as they are); then every frame of the frame data in its order (``exp_data``
    as given, or an array paired with ``sequence`` as the platform pairs them:
    :func:`pipeline.session.records.frame_data`), its values flattened in the record's
    order: ``eventTimings.N.k`` gives
    ``event_number="N", key=k``, other keys have an empty ``event_number``. A frame whose
    data is not an object (jsPsych-style) is one row with an empty ``key``. ``frameType``,
    an empty ``generatedProperties`` and every ``birthDate`` are not written; empty arrays
    and objects vanish.
    """
    uid = record["response"]["uuid"]
    rows: list[FrameRow] = []
    events = drop_birthdates(record["response"]["global_event_timings"]) or []
    for number, event in enumerate(events):
        if isinstance(event, dict):
            rows.extend(
                (uid, child_hashed_id, "global", str(number), k, v) for k, v in event.items()
            )
        else:
            rows.append((uid, child_hashed_id, "global", str(number), "", event))
    for fid, frame in frame_data(record["response"]).items():
        rows.extend(_frame_rows(uid, child_hashed_id, fid, frame))
    return rows


def frame_files(records: Sequence[Record], settings: StudySettings) -> TableFiles:
    """The per-session ZIP, the gzipped CSV of all rows (the per-session files' rows in
    response order under one header) and the dictionary (roles ``framedata_zip``,
    ``all_frames_gz``, ``frames_dict``); the table is the CSV of all rows, uncompressed."""
    entries, all_rows = {}, []
    for record in records:
        rows = frame_rows(record, settings.hashed(record["child"]["global_id"]))
        all_rows.extend(rows)
        entries[f"{settings.slug}_{record['response']['uuid']}_frames.csv"] = platform_csv(
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
