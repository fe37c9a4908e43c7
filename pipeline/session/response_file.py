"""A raw responses file (SPEC §4.1), judged record by record (SPEC §6).

The file is a JSON array of records. Each record is checked on its own: one that breaks a
rule (not an object, a missing key, a non-UUID id, another study's record…) is set aside
with its file, its 1-based record number and the line where it starts, and the file's
other records go on. Only a file that cannot be read as a JSON array of records at all
(undecodable bytes, truncated or malformed JSON, a number too long or nesting too deep for
the decoder, not an array) is rejected whole. Keys the platform may add are accepted, not
kept, and counted (:func:`unknown_keys`).

``exp_data`` is kept as the record gives it: an object of frames, or (jsPsych-style
studies) an array; :func:`frame_data` pairs an array with ``sequence`` as the platform does.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.session.ages import parse_birthday, parse_timestamp
from pipeline.session.inputs import Record, SessionInputError, decode_input, line_of

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
UUID_FIELDS = frozenset(
    {
        ("response", "uuid"),
        ("study", "uuid"),
        ("participant", "global_id"),
        ("child", "global_id"),
        ("demographic", "uuid"),
    }
)
BOOL_FIELDS = ("completed", "is_preview", "completed_consent_frame")
#: ``response.id``: the platform's numeric id (a Django ``AutoField``), as a JSON number or
#: as text of ASCII digits; at most this many digits.
MAX_ID_DIGITS = 18
#: ``response.date_created`` must fall in these years (UTC), so that it can be moved to
#: any time zone (the `for` day) without leaving the calendar.
YEARS = (2, 9998)
#: A record nested deeper than this (objects and arrays) is set aside: the outputs walk it.
MAX_DEPTH = 100
#: The unknown keys counted by name in the run manifest (SPEC §6: a manifest never quotes
#: respondents' data, and a broken export could key data by a nickname or a token): names
#: the platform itself uses (lookit-api ``Response`` model, ``RESPONSE_COLUMNS``,
#: ``DEMOGRAPHIC_COLUMNS``, the JSON download's ``consent`` and top-level ``exp_data``)
#: that SPEC §4.1 does not read. Every other unknown key is counted under
#: :data:`OTHER_KEY`, whatever its name.
KNOWN_KEY_NAMES = frozenset(
    {
        "consent",
        "exp_data",
        "response.withdrawn",
        "response.birthdate_difference",
        "response.video_privacy",
        "response.databrary",
        "response.survey_consent",
        "response.date_modified",
        "response.recording_method",
        "participant.hashed_id",
        "child.hashed_id",
        "child.age_in_days",
        "child.age_rounded",
        "demographic.hashed_id",
        "demographic.child_rounded_ages",
    }
)
OTHER_KEY = "(other)"
_WS = re.compile(r"[ \t\n\r]*")


@dataclass
class ResponsesFile:
    """What a responses file gave: its valid records, the records set aside (errors with
    ``record`` and ``line``), and the unknown keys met (``response.new_field`` → count)."""

    records: list[Record] = field(default_factory=list)
    set_aside: list[SessionInputError] = field(default_factory=list)
    unknown_keys: Counter[str] = field(default_factory=Counter)


def split_array(text: str, file_name: str) -> list[tuple[Any, int]]:
    """Decode a JSON array, returning each element with the line it starts on.

    Raises :class:`SessionInputError` (file, record, line, column) when the text is not a
    JSON array: then no record of the file can be trusted.
    """
    decoder = json.JSONDecoder()
    pos = _WS.match(text, 0).end()
    if pos >= len(text):
        raise SessionInputError(file_name, "empty file, expected a JSON array of records")
    if text[pos] != "[":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise SessionInputError.not_json(file_name, exc) from None
        except (ValueError, RecursionError) as exc:
            raise _unreadable(file_name, exc, None, text, pos) from None
        raise SessionInputError(
            file_name, "expected a JSON array of records", line=line_of(text, pos)
        )
    items: list[tuple[Any, int]] = []
    mark = [0, 1]  # a position and its line: lines are counted once, front to back

    def line_at(where: int) -> int:
        mark[1] += text.count("\n", mark[0], where)
        mark[0] = where
        return mark[1]

    pos = _WS.match(text, pos + 1).end()
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            start = pos
            try:
                value, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise SessionInputError.not_json(file_name, exc, record=len(items) + 1) from None
            except (ValueError, RecursionError) as exc:
                raise _unreadable(file_name, exc, len(items) + 1, text, start) from None
            items.append((value, line_at(start)))
            pos = _WS.match(text, pos).end()
            if pos < len(text) and text[pos] == ",":
                pos = _WS.match(text, pos + 1).end()
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            line = line_of(text, pos)
            raise SessionInputError(
                file_name,
                "not JSON: expected ',' or ']' after a record",
                record=len(items),
                line=line,
                column=pos - text.rfind("\n", 0, pos),
            )
    pos = _WS.match(text, pos).end()
    if pos != len(text):
        raise SessionInputError(
            file_name,
            "not JSON: extra data after the array",
            line=line_of(text, pos),
            column=pos - text.rfind("\n", 0, pos),
        )
    return items


def _unreadable(
    file_name: str, exc: Exception, record: int | None, text: str, start: int
) -> SessionInputError:
    """The whole file is rejected: the decoder gave up on a number too long to convert
    (``int`` max str digits) or on nesting deeper than it can follow. The place is the
    start of the record being read (of the file's value without ``record``); the value
    itself is never quoted."""
    if isinstance(exc, RecursionError):
        reason = "not JSON that can be read: nested too deeply"
    else:
        limit = sys.get_int_max_str_digits()
        reason = f"not JSON that can be read: a number with more than {limit} digits"
    column = start - text.rfind("\n", 0, start)
    return SessionInputError(file_name, reason, record, line_of(text, start), column)


def frames_by_name(frames: list[Any], sequence: list[Any]) -> dict[Any, Any]:
    """``exp_data`` given as an array (jsPsych-style studies) paired with ``sequence`` as
    the platform pairs them for its frame data (lookit-api ``Response.normalized_exp_data``:
    a dict built from ``zip(sequence, exp_data)``): items beyond the shorter of the two are
    dropped, and when a frame name repeats the later item wins, at the name's first place."""
    return dict(zip(sequence, frames, strict=False))


def frame_data(response: Mapping[str, Any]) -> dict[Any, Any]:
    """The frames of a (checked) response by frame id, as the platform's frame data reads
    them: ``exp_data`` itself when it is an object, an array paired with ``sequence``
    (:func:`frames_by_name`), nothing when it is null. The JSON download writes
    ``exp_data`` as it is instead (an array stays an array)."""
    exp = response["exp_data"]
    if isinstance(exp, list):
        return frames_by_name(exp, response["sequence"] or [])
    return exp or {}


def unknown_keys(raw: dict[str, Any]) -> list[str]:
    """The keys of a record that SPEC §4.1 does not name, as counted in the run manifest:
    by name (``consent``, ``response.withdrawn``) only when the name is one of
    :data:`KNOWN_KEY_NAMES`, every other one as :data:`OTHER_KEY`. A key may hold a
    respondent's data in a broken export, so no other name is ever kept."""
    names = [k for k in raw if k not in TOP_KEYS]
    for top in TOP_KEYS:
        section = raw.get(top)
        if isinstance(section, dict):
            names += [f"{top}.{k}" for k in section if k not in SUBKEYS[top]]
    return [n if n in KNOWN_KEY_NAMES else OTHER_KEY for n in names]


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels (walked without
    recursion)."""
    level = [value]
    for _ in range(limit):
        level = [
            item
            for v in level
            if isinstance(v, dict | list)
            for item in (v.values() if isinstance(v, dict) else v)
        ]
        if not any(isinstance(v, dict | list) for v in level):
            return False
    return True


def _check_id(value: Any) -> None:
    """``response.id``: null, or the platform's numeric id (:data:`MAX_ID_DIGITS`)."""
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 10**MAX_ID_DIGITS:
            return
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) <= MAX_ID_DIGITS:
            return
    raise ValueError(f"response.id is not a whole number of at most {MAX_ID_DIGITS} digits")


def _sections(raw: Any) -> Record:
    """The five sections with exactly their known subkeys, required ones present, UUIDs
    normalized; raises ValueError with the reason."""
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
            if (top, key) in UUID_FIELDS and clean[key] is not None:
                try:
                    clean[key] = str(uuid.UUID(str(clean[key])))
                except ValueError:
                    raise ValueError(f"{top}.{key} is not a UUID") from None
        out[top] = clean
    return out


def check_record(raw: Any, expected_study: str | None = None) -> Record:
    """Validate and normalize one record, or raise ValueError with the reason (which names
    keys, never values)."""
    out = _sections(raw)
    if _too_deep(raw):
        raise ValueError(f"the record is nested more than {MAX_DEPTH} levels deep")
    response = out["response"]
    _check_id(response["id"])
    try:
        created = parse_timestamp(response["date_created"])
    except (TypeError, ValueError, OverflowError):
        raise ValueError("response.date_created is not a timestamp") from None
    if not YEARS[0] <= created.year <= YEARS[1]:
        raise ValueError(f"response.date_created is not in the years {YEARS[0]}-{YEARS[1]}")
    for key in BOOL_FIELDS:
        if response[key] is not None and not isinstance(response[key], bool):
            raise ValueError(f"response.{key} must be true or false")
    sequence = response["sequence"]
    if sequence is not None and not (
        isinstance(sequence, list) and all(isinstance(s, str) for s in sequence)
    ):
        raise ValueError("response.sequence must be an array of frame names (strings)")
    if response["conditions"] is not None and not isinstance(response["conditions"], dict | list):
        raise ValueError("response.conditions must be an object or an array")
    exp = response["exp_data"]
    if exp is not None and not isinstance(exp, dict | list):
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
        except (TypeError, ValueError, OverflowError):
            raise ValueError("child.birthday is not a date") from None
    if expected_study is not None and out["study"]["uuid"] != str(uuid.UUID(expected_study)):
        raise ValueError("study.uuid is not this study's (the configured study_uuid)")
    return out


def read_responses(data: bytes, file_name: str, study_uuid: str | None = None) -> ResponsesFile:
    """Read one raw responses file record by record.

    Valid records are normalized: exactly the subkeys of SPEC §4.1 (absent ones ``None``;
    ``demographic`` may be ``None``), UUIDs in lower case; ``exp_data`` stays as given (an
    object, or an array in jsPsych-style studies: :func:`frame_data`); a frame's data may
    be any JSON value. With
    ``study_uuid``, a record of another study is set aside. Raises
    :class:`SessionInputError` only when the file is not a JSON array of records.
    """
    text = decode_input(data, file_name)
    out = ResponsesFile()
    for number, (raw, line) in enumerate(split_array(text, file_name), start=1):
        try:
            out.records.append(check_record(raw, study_uuid))
        except ValueError as exc:
            out.set_aside.append(SessionInputError(file_name, str(exc), record=number, line=line))
        if isinstance(raw, dict):
            out.unknown_keys.update(unknown_keys(raw))
    return out


def parse_responses(data: bytes, file_name: str, study_uuid: str | None = None) -> list[Record]:
    """The records of a responses file, strictly: like :func:`read_responses`, but a record
    that would be set aside raises its :class:`SessionInputError` (file, record, line)."""
    read = read_responses(data, file_name, study_uuid)
    if read.set_aside:
        raise read.set_aside[0]
    return read.records
