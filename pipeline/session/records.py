"""Raw inputs of session studies (SPEC §4.1): response records, consent rulings, videos.

Every parser takes the raw bytes and the file name, and raises
:class:`SessionInputError` naming the file, the record index and the line when the
input is malformed, so the caller can quarantine the file and go on with the others.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from typing import Any

from pipeline.session.ages import parse_birthday, parse_timestamp

Record = dict[str, Any]

TOP_KEYS = ("response", "study", "participant", "child", "demographic")
SUBKEYS: dict[str, tuple[str, ...]] = {
    "response": (
        "uuid",
        "id",
        "date_created",
        "completed",
        "is_preview",
        "completed_consent_frame",
        "sequence",
        "conditions",
        "exp_data",
        "global_event_timings",
        "eligibility",
        "parent_feedback",
        "researcher_payment_status",
        "researcher_session_status",
        "researcher_star",
    ),
    "study": ("uuid", "name"),
    "participant": ("global_id", "nickname"),
    "child": (
        "global_id",
        "name",
        "birthday",
        "gender",
        "age_at_birth",
        "language_list",
        "condition_list",
        "additional_information",
    ),
    "demographic": (
        "uuid",
        "date_created",
        "number_of_children",
        "child_birthdays",
        "number_of_guardians",
        "us_race_ethnicity_identification",
        "parent_age",
        "parent_gender",
        "education_level",
        "annual_income",
        "additional_comments",
        "country",
        "state",
        "density",
        "lookit_referrer",
    ),
}
#: Subkeys that must be present and non-empty (the others default to null).
REQUIRED = {
    "response": ("uuid", "date_created"),
    "study": ("uuid",),
    "participant": ("global_id",),
    "child": ("global_id",),
    "demographic": ("uuid",),
}
_UUID_FIELDS = {
    ("response", "uuid"),
    ("study", "uuid"),
    ("participant", "global_id"),
    ("child", "global_id"),
    ("demographic", "uuid"),
}
_BOOL_FIELDS = ("completed", "is_preview", "completed_consent_frame")

RULING_ACTIONS = ("accepted", "rejected", "pending")
# On equal created_at the more restrictive ruling wins.
_RESTRICTIVENESS = {"accepted": 0, "pending": 1, "rejected": 2}


class SessionInputError(ValueError):
    """A malformed session input file; the message names file, record and line."""

    def __init__(
        self, file: str, message: str, record: int | None = None, line: int | None = None
    ) -> None:
        self.file, self.record, self.line, self.reason = file, record, line, message
        where = [file]
        if record is not None:
            where.append(f"record {record}")
        if line is not None:
            where.append(f"line {line}")
        super().__init__(f"{', '.join(where)}: {message}")


def input_kind(name: str) -> str | None:
    """Kind of a drop file by name (SPEC §4.1): ``responses``, ``rulings``, ``videos``."""
    base = posixpath.basename(name.replace("\\", "/")).lower()
    if fnmatch(base, "*.json"):
        return "responses"
    if fnmatch(base, "*consent*.csv"):
        return "rulings"
    if fnmatch(base, "*videos*.txt"):
        return "videos"
    return None


# --------------------------------------------------------------------------- responses


def _decode(data: bytes, file_name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SessionInputError(
            file_name, f"undecodable bytes (not UTF-8) at byte {exc.start}", line=line
        ) from None


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _split_array(text: str, file_name: str) -> list[tuple[Any, int]]:
    """Decode a JSON array, returning each element with the line it starts on."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")
    pos = ws.match(text, 0).end()
    if pos >= len(text):
        raise SessionInputError(file_name, "empty file, expected a JSON array of records")
    if text[pos] != "[":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise SessionInputError(file_name, f"not JSON: {exc.msg}", line=exc.lineno) from None
        raise SessionInputError(
            file_name, "expected a JSON array of records", line=_line_of(text, pos)
        )
    items: list[tuple[Any, int]] = []
    mark = [0, 1]  # a position and its line: lines are counted once, front to back

    def line_at(where: int) -> int:
        mark[1] += text.count("\n", mark[0], where)
        mark[0] = where
        return mark[1]

    pos = ws.match(text, pos + 1).end()
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            start = pos
            try:
                value, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise SessionInputError(
                    file_name, f"not JSON: {exc.msg}", record=len(items), line=exc.lineno
                ) from None
            items.append((value, line_at(start)))
            pos = ws.match(text, pos).end()
            if pos < len(text) and text[pos] == ",":
                pos = ws.match(text, pos + 1).end()
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            raise SessionInputError(
                file_name,
                "not JSON: expected ',' or ']' after a record",
                record=len(items) - 1,
                line=_line_of(text, pos),
            )
    pos = ws.match(text, pos).end()
    if pos != len(text):
        raise SessionInputError(
            file_name, "not JSON: extra data after the array", line=_line_of(text, pos)
        )
    return items


def _frames_by_name(frames: list[Any], sequence: list[Any]) -> dict[str, Any]:
    """``exp_data`` given as an array (jsPsych-style studies): item ``i`` is the data of the
    ``i``-th frame of ``sequence``, as the platform pairs them; an item beyond the sequence
    (or whose name is already taken) is named by its index."""
    named: dict[str, Any] = {}
    for index, frame in enumerate(frames):
        name = sequence[index] if index < len(sequence) else None
        if not isinstance(name, str) or name in named:
            name = str(index)
        named[name] = frame
    return named


def _check_record(raw: Any, expected_study: str | None) -> Record:
    """Validate and normalize one record, or raise ValueError with the reason."""
    if not isinstance(raw, dict):
        raise ValueError(f"a record must be a JSON object, not {type(raw).__name__}")
    missing = [k for k in TOP_KEYS if k not in raw]
    if missing:
        raise ValueError(f"missing required key(s): {', '.join(missing)}")
    out: Record = {}
    for top in TOP_KEYS:
        section = raw[top]
        if section is None and top == "demographic":
            out[top] = None  # an account without a demographic snapshot
            continue
        if not isinstance(section, dict):
            raise ValueError(f"'{top}' must be an object, not {type(section).__name__}")
        gone = [k for k in REQUIRED[top] if section.get(k) in (None, "")]
        if gone:
            raise ValueError(f"missing required key(s): {', '.join(f'{top}.{k}' for k in gone)}")
        clean = {key: section.get(key) for key in SUBKEYS[top]}
        for key in SUBKEYS[top]:
            if (top, key) in _UUID_FIELDS and clean[key] is not None:
                try:
                    clean[key] = str(uuid.UUID(str(clean[key])))
                except ValueError:
                    raise ValueError(f"{top}.{key} is not a UUID") from None
        out[top] = clean
    response = out["response"]
    try:
        parse_timestamp(response["date_created"])
    except (TypeError, ValueError):
        raise ValueError("response.date_created is not a timestamp") from None
    for key in _BOOL_FIELDS:
        if response[key] is not None and not isinstance(response[key], bool):
            raise ValueError(f"response.{key} must be true or false")
    if response["sequence"] is not None and not isinstance(response["sequence"], list):
        raise ValueError("response.sequence must be an array")
    if response["conditions"] is not None and not isinstance(response["conditions"], dict | list):
        raise ValueError("response.conditions must be an object or an array")
    exp = response["exp_data"]
    if isinstance(exp, list):
        response["exp_data"] = _frames_by_name(exp, response["sequence"] or [])
    elif exp is not None and not isinstance(exp, dict):
        raise ValueError("response.exp_data must be an object or an array")
    events = response["global_event_timings"]
    if events is not None and not isinstance(events, list):
        raise ValueError("response.global_event_timings must be an array")
    eligibility = response["eligibility"]
    if eligibility is not None and not isinstance(eligibility, list | str):
        raise ValueError("response.eligibility must be an array or a string")
    for key in ("parent_feedback", "researcher_payment_status", "researcher_session_status"):
        if isinstance(response[key], dict | list):
            raise ValueError(f"response.{key} must be a single value")
    birthday = out["child"]["birthday"]
    if birthday not in (None, ""):
        try:
            parse_birthday(birthday)
        except (TypeError, ValueError):
            raise ValueError("child.birthday is not a date") from None
    if expected_study is not None and out["study"]["uuid"] != str(uuid.UUID(expected_study)):
        raise ValueError(f"study.uuid {out['study']['uuid']} is not this study ({expected_study})")
    return out


def parse_responses(data: bytes, file_name: str, study_uuid: str | None = None) -> list[Record]:
    """Parse one raw responses file (a JSON array of records) into validated records.

    Each record is a dict with the keys ``response, study, participant, child,
    demographic``, each holding exactly the subkeys of SPEC §4.1 (absent ones are
    ``None``; ``demographic`` may be ``None``); UUIDs are normalized to lower case, and
    ``exp_data`` given as an array (jsPsych-style) becomes an object keyed by frame name.
    A frame's data may be any JSON value (jsPsych-style frames need not be objects).
    With ``study_uuid``, a record of another study is an error.
    Raises :class:`SessionInputError` on undecodable bytes, invalid JSON, a non-array,
    or a record that is not an object or lacks a required key.
    """
    text = _decode(data, file_name)
    records = []
    for index, (raw, line) in enumerate(_split_array(text, file_name)):
        try:
            records.append(_check_record(raw, study_uuid))
        except ValueError as exc:
            raise SessionInputError(file_name, str(exc), record=index, line=line) from None
    return records


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
    """The frame IDs of a response's ``exp_data`` in the order the participant saw them:
    as in ``sequence``, then frames missing from it in natural order."""
    exp = record["response"]["exp_data"] or {}
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
    """One consent ruling on one response."""

    response_uuid: str
    action: str
    arbiter: str
    created_at: datetime
    comment: str


def parse_rulings(data: bytes, file_name: str) -> list[Ruling]:
    """Parse a consent rulings CSV (``response_uuid, action, arbiter, created_at, comment``).

    ``arbiter`` and ``comment`` may be absent; blank lines are skipped. Raises
    :class:`SessionInputError` (file and line) on a missing column, an unknown action,
    a bad UUID or timestamp.
    """
    text = _decode(data, file_name)
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
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
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
            rulings.append(Ruling(response_uuid, action, cell("arbiter"), created, cell("comment")))
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
    text = _decode(data, file_name)
    videos = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            videos.append(parse_video_name(line))
        except ValueError as exc:
            raise SessionInputError(file_name, str(exc), line=number) from None
    return videos
