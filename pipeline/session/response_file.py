"""A raw responses file (SPEC §4.1), judged record by record (SPEC §6).

The file is a JSON array of records. Each record is checked on its own: one that breaks a
rule (not an object, a missing key, a non-UUID id, another study's record…) is set aside
with its file, its 1-based record number and the line where it starts, and the file's
other records go on. Only a file that cannot be read as a JSON array of records at all
(undecodable bytes, truncated or malformed JSON, not an array) is rejected whole. Keys the
platform may add are accepted, not kept, and counted by name.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
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
#: How an unknown key is counted: by its name when it looks like a field name, otherwise
#: under :data:`OTHER_KEY` (a key is never a place for respondents' data, but a broken
#: export could put some there).
KEY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
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


def frames_by_name(frames: list[Any], sequence: list[Any]) -> dict[str, Any]:
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


def unknown_keys(raw: dict[str, Any]) -> list[str]:
    """The keys of a record that SPEC §4.1 does not name (``extra`` at the top,
    ``response.extra`` in a section), as counted in the run manifest."""
    names = [k for k in raw if k not in TOP_KEYS]
    for top in TOP_KEYS:
        section = raw.get(top)
        if isinstance(section, dict):
            names += [f"{top}.{k}" for k in section if k not in SUBKEYS[top]]
    return [n if all(KEY_NAME.match(p) for p in n.split(".")) else OTHER_KEY for n in names]


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
    response = out["response"]
    try:
        parse_timestamp(response["date_created"])
    except (TypeError, ValueError):
        raise ValueError("response.date_created is not a timestamp") from None
    for key in BOOL_FIELDS:
        if response[key] is not None and not isinstance(response[key], bool):
            raise ValueError(f"response.{key} must be true or false")
    if response["sequence"] is not None and not isinstance(response["sequence"], list):
        raise ValueError("response.sequence must be an array")
    if response["conditions"] is not None and not isinstance(response["conditions"], dict | list):
        raise ValueError("response.conditions must be an object or an array")
    exp = response["exp_data"]
    if isinstance(exp, list):
        response["exp_data"] = frames_by_name(exp, response["sequence"] or [])
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
        raise ValueError("study.uuid is not this study's (the configured study_uuid)")
    return out


def read_responses(data: bytes, file_name: str, study_uuid: str | None = None) -> ResponsesFile:
    """Read one raw responses file record by record.

    Valid records are normalized: exactly the subkeys of SPEC §4.1 (absent ones ``None``;
    ``demographic`` may be ``None``), UUIDs in lower case, ``exp_data`` given as an array
    (jsPsych-style) keyed by frame name; a frame's data may be any JSON value. With
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
