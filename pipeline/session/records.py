"""Raw inputs of session studies (SPEC §4.1): response records, consent rulings, videos.

Every parser takes the raw bytes and the file name, and raises :class:`SessionInputError`
naming the file, the 1-based record number, the line and the column when the input is
malformed, so the caller can set the record or the file aside and go on with the others.
Responses files are judged record by record (:mod:`pipeline.session.response_file`); the
shared pieces are in :mod:`pipeline.session.inputs`.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline.session.ages import parse_timestamp
from pipeline.session.inputs import Record, SessionInputError, decode_input, input_kind
from pipeline.session.response_file import (
    REQUIRED,
    SUBKEYS,
    TOP_KEYS,
    ResponsesFile,
    frame_data,
    parse_responses,
    read_responses,
)

__all__ = [
    "REQUIRED",
    "RULING_ACTIONS",
    "SUBKEYS",
    "TOP_KEYS",
    "VIDEO_NAME",
    "Record",
    "ResponsesFile",
    "Ruling",
    "SessionInputError",
    "Video",
    "frame_data",
    "frame_order",
    "input_kind",
    "merge_records",
    "natural_key",
    "newest_rulings",
    "parse_responses",
    "parse_rulings",
    "parse_video_list",
    "parse_video_name",
    "read_responses",
    "record_sort_key",
    "unmatched_rulings",
]

RULING_ACTIONS = ("accepted", "rejected", "pending")
# On equal created_at the more restrictive ruling wins.
_RESTRICTIVENESS = {"accepted": 0, "pending": 1, "rejected": 2}


# --------------------------------------------------------------------------- responses


def _progress(record: Record) -> tuple:
    response = record["response"]
    return (
        bool(response["completed"]),
        bool(response["completed_consent_frame"]),
        len(response["sequence"] or ()),
        len(response["exp_data"] or ()),
        len(response["global_event_timings"] or ()),
        json.dumps(record, sort_keys=True, default=str),
    )


def merge_records(records: Iterable[Record]) -> list[Record]:
    """One record per response UUID, sorted by (``date_created``, uuid).

    A response delivered several times (a later export of a session in progress) keeps
    its most advanced copy: completed, then consent frame completed, then more frames
    seen, more frame data, more global events; the canonical JSON text breaks the last
    ties, so the result does not depend on delivery order.
    """
    best: dict[str, Record] = {}
    for record in records:
        key = record["response"]["uuid"]
        if key not in best or _progress(record) > _progress(best[key]):
            best[key] = record
    return sorted(best.values(), key=record_sort_key)


def natural_key(text: str) -> tuple:
    """Sort key ordering digit runs by value: ``x.2`` before ``x.10``."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text))


def frame_order(record: Record) -> list[str]:
    """The frame IDs of a response's frame data (:func:`frame_data`) in the order the
    participant saw them: as in ``sequence``, then frames missing from it in natural order."""
    exp = frame_data(record["response"])
    seen = [f for f in dict.fromkeys(record["response"]["sequence"] or ()) if f in exp]
    rest = sorted((f for f in exp if f not in seen), key=natural_key)
    return [*seen, *rest]


def record_sort_key(record: Record) -> tuple[datetime, str]:
    """Order of records in every output: response creation time, then response UUID."""
    response = record["response"]
    return parse_timestamp(response["date_created"]), response["uuid"]


# --------------------------------------------------------------------------- rulings


@dataclass(frozen=True)
class Ruling:
    """One consent ruling on one response; ``file`` and ``line`` say where it was read
    (they take no part in comparisons)."""

    response_uuid: str
    action: str
    arbiter: str
    created_at: datetime
    comment: str
    file: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)


def parse_rulings(data: bytes, file_name: str) -> list[Ruling]:
    """Parse a consent rulings CSV (``response_uuid, action, arbiter, created_at, comment``).

    ``arbiter`` and ``comment`` may be absent; blank lines are skipped. Raises
    :class:`SessionInputError` (file and line) on a missing column, an unknown action,
    a bad UUID or timestamp.
    """
    text = decode_input(data, file_name)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise SessionInputError(file_name, "empty file, expected a header row") from None
    except csv.Error as exc:
        raise SessionInputError(file_name, f"bad CSV: {exc}", line=1) from None
    need = [c for c in ("response_uuid", "action", "created_at") if c not in header]
    if need:
        raise SessionInputError(file_name, f"missing column(s): {', '.join(need)}", line=1)
    col = {name: header.index(name) for name in header}
    rulings = []
    start = reader.line_num + 1  # the line a row starts on (a quoted cell may span lines)
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise SessionInputError(
                    file_name, f"expected {len(header)} fields, found {len(row)}", line=line
                )

            def cell(name: str, row: list[str] = row) -> str:
                return row[col[name]].strip() if name in col else ""

            try:
                response_uuid = str(uuid.UUID(cell("response_uuid")))
            except ValueError:
                raise SessionInputError(
                    file_name, "response_uuid is not a UUID", line=line
                ) from None
            action = cell("action").lower()
            if action not in RULING_ACTIONS:
                raise SessionInputError(
                    file_name,
                    f"action must be one of {', '.join(RULING_ACTIONS)}",
                    line=line,
                )
            try:
                created = parse_timestamp(cell("created_at"))
            except ValueError:
                raise SessionInputError(
                    file_name, "created_at is not a timestamp", line=line
                ) from None
            said = (cell("arbiter"), created, cell("comment"))
            rulings.append(Ruling(response_uuid, action, *said, file=file_name, line=line))
    except csv.Error as exc:
        raise SessionInputError(file_name, f"bad CSV: {exc}", line=reader.line_num) from None
    return rulings


def newest_rulings(rulings: Iterable[Ruling]) -> dict[str, Ruling]:
    """The ruling in force per response UUID: the newest ``created_at`` wins.

    On equal ``created_at`` the more restrictive action wins (rejected, then pending,
    then accepted); then the arbiter and comment text, so the result is order-free.
    """
    best: dict[str, Ruling] = {}

    def rank(r: Ruling) -> tuple:
        return (r.created_at, _RESTRICTIVENESS[r.action], r.arbiter, r.comment)

    for ruling in rulings:
        current = best.get(ruling.response_uuid)
        if current is None or rank(ruling) > rank(current):
            best[ruling.response_uuid] = ruling
    return best


def unmatched_rulings(rulings: Iterable[Ruling], records: Iterable[Record]) -> list[Ruling]:
    """The rulings on responses that are not among ``records`` (never received, or set
    aside): kept, to apply should the response arrive, and reported (SPEC §6)."""
    received = {r["response"]["uuid"] for r in records}
    return [r for r in rulings if r.response_uuid not in received]


# --------------------------------------------------------------------------- videos

_UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
#: ``consent-`` marks a consent video (jsPsych-style studies name them so).
VIDEO_NAME = re.compile(
    rf"^(?P<consent>consent-)?videoStream_(?P<study>{_UUID_RE})_(?P<frame>.+)"
    rf"_(?P<response>{_UUID_RE})_(?P<epoch_ms>\d+)"
    r"_(?P<rand>[0-9A-Za-z]+)(?:\.(?P<ext>[0-9A-Za-z]+))?$"
)


@dataclass(frozen=True)
class Video:
    """One video file, parsed from its name."""

    video_file: str
    study_uuid: str
    frame_id: str
    response_uuid: str
    epoch_ms: int
    consent_prefix: bool  # named ``consent-videoStream_…``

    @property
    def recorded_at(self) -> datetime:
        """Recording start (UTC), from the name's epoch milliseconds."""
        return datetime.fromtimestamp(self.epoch_ms / 1000, UTC)


def parse_video_name(name: str) -> Video:
    """Parse ``[consent-]videoStream_{study}_{order-frame}_{response}_{epoch_ms}_{rand}[.{ext}]``.

    The frame name may contain ``_`` and ``-``: the two UUIDs anchor the split. A path
    prefix is dropped. Whether a video is a consent video also depends on its frame's
    type (:func:`pipeline.session.rules.is_consent_video`). Raises ValueError for any
    other name.
    """
    base = posixpath.basename(name.strip().replace("\\", "/"))
    match = VIDEO_NAME.match(base)
    if not match:
        raise ValueError("not a videoStream file name")
    frame = match["frame"]
    return Video(
        video_file=base,
        study_uuid=match["study"].lower(),
        frame_id=frame,
        response_uuid=match["response"].lower(),
        epoch_ms=int(match["epoch_ms"]),
        consent_prefix=match["consent"] is not None,
    )


def parse_video_list(data: bytes, file_name: str) -> list[Video]:
    """Parse a video list (one file name per line; blank lines skipped)."""
    text = decode_input(data, file_name)
    videos = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            videos.append(parse_video_name(line))
        except ValueError as exc:
            raise SessionInputError(file_name, str(exc), line=number) from None
    return videos
