"""The published files of a session study (SPEC §4.3) and the cross-study ID map.

Every builder is a pure function of the published records and the study settings and
returns bytes; rows are sorted and columns ordered deterministically, and ZIP entries
carry a fixed timestamp, so the same input always gives byte-identical files.

Privacy: the identifying columns (:data:`IDENTIFYING`) are written only when selected
in ``StudySettings.identifying``; global IDs, names, birthdays, the exit survey's
``birthDate`` and the free-text fields (nickname, child additional information,
demographic additional comments, referrer, consent comment) are never written
otherwise.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.session.ages import age_in_days, parse_birthday, parse_timestamp, round_age
from pipeline.session.hashing import DEFAULT_DIGITS, Collision, find_collisions, hash_id
from pipeline.session.records import Record, Ruling, Video, iso_utc, merge_records
from pipeline.session.rules import exit_frames, is_withdrawn, listed_videos

#: Columns written only when selected in ``identifying`` (SPEC §4.2). ``consent__comment``
#: (the arbiter's free text) is an addition: opt-in like the others.
IDENTIFYING = (
    "participant__global_id",
    "participant__nickname",
    "child__global_id",
    "child__name",
    "child__birthday",
    "child__age_in_days",
    "child__additional_information",
    "consent__comment",
)
IDENTIFIABLE_SUFFIX = "-identifiable"
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
REDACT = "MUST BE REDACTED FOR PUBLICATION (identifying)."
FRAME_PLACEHOLDER = "RESEARCHER: INSERT FRAME DESCRIPTION"
KEY_PLACEHOLDER = "RESEARCHER: INSERT DESCRIPTION OF WHAT THIS KEY MEANS IN THIS FRAME"
# Keys never written to frame data / JSON: the frame's type, and birth dates anywhere
# in exp_data (the exit survey asks for the child's birth date again).
FRAME_DROP_KEYS = ("frameType",)
DROP_LEAF = "birthDate"


# --------------------------------------------------------------------------- settings


def study_slug(name: str) -> str:
    """``{study}`` in file names: every character other than ASCII letters/digits → ``-``."""
    return re.sub(r"[^A-Za-z0-9]", "-", name)


@dataclass(frozen=True)
class StudySettings:
    """What the builders need to know about a study (from the ``session:`` config block;
    ``salt`` is the secret salt UUID itself, not the name of its variable)."""

    study_uuid: str
    study_name: str
    salt: str
    hash_digits: int = DEFAULT_DIGITS
    identifying: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what in ("study_uuid", "salt"):
            try:
                object.__setattr__(self, what, str(uuid.UUID(str(getattr(self, what)))))
            except ValueError:
                raise ValueError(f"{what} must be a UUID") from None
        chosen = tuple(self.identifying)
        unknown = sorted(set(chosen) - set(IDENTIFYING))
        if unknown:
            raise ValueError(
                f"unknown identifying column(s) {', '.join(unknown)}; "
                f"choose from {', '.join(IDENTIFYING)}"
            )
        object.__setattr__(self, "identifying", tuple(c for c in IDENTIFYING if c in chosen))
        hash_id(self.study_uuid, self.study_uuid, self.salt, self.hash_digits)  # digits check

    @classmethod
    def from_config(cls, session: Any, salt: str) -> StudySettings:
        """Settings from a ``session:`` config block (any object with ``study_uuid``,
        ``study_name``, ``hash_digits``, ``identifying``) and the salt read from the
        environment variable it names."""
        return cls(
            study_uuid=session.study_uuid,
            study_name=session.study_name,
            salt=salt,
            hash_digits=session.hash_digits,
            identifying=tuple(session.identifying or ()),
        )

    @property
    def slug(self) -> str:
        """The study name as used in file names (the study UUID when the name is empty)."""
        return study_slug(self.study_name) if self.study_name else self.study_uuid

    @property
    def identifiable(self) -> bool:
        """True when any identifying column is selected."""
        return bool(self.identifying)

    def hashed(self, global_id: str | None) -> str:
        """Hashed ID of a global ID in this study ("" when there is none)."""
        if not global_id:
            return ""
        return _cached_hash(global_id, self.study_uuid, self.salt, self.hash_digits)


@functools.lru_cache(maxsize=1 << 16)
def _cached_hash(global_id: str, study: str, salt: str, digits: int) -> str:
    return hash_id(global_id, study, salt, digits)


def output_names(settings: StudySettings) -> dict[str, str]:
    """File name of every output, by role."""
    s, ident = settings.slug, IDENTIFIABLE_SUFFIX if settings.identifiable else ""
    return {
        "responses_csv": f"{s}_all-responses{ident}.csv",
        "responses_dict": f"{s}_all-responses-dict.csv",
        "responses_json": f"{s}_all-responses{ident}.json",
        "framedata_zip": f"{s}_framedata_per_session.zip",
        "frames_dict": f"{s}_all-frames-dict.csv",
        "children_csv": f"{s}_all-children{ident}.csv",
        "children_dict": f"{s}_all-children-dict.csv",
        "demographics_csv": f"{s}_all-demographic-snapshots.csv",
        "demographics_json": f"{s}_all-demographic-snapshots.json",
        "demographics_dict": f"{s}_all-demographic-snapshots-dict.csv",
        "videos_csv": f"{s}_videos.csv",
    }


# --------------------------------------------------------------------------- helpers


def natural_key(text: str) -> tuple:
    """Sort key ordering digit runs by value: ``x.2`` before ``x.10``."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text))


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested objects/arrays into ``(path, scalar)`` pairs, path parts joined by
    ``.`` (array items by index). Empty objects and arrays give nothing."""
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            pairs.extend(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    if isinstance(value, list):
        pairs = []
        for index, item in enumerate(value):
            pairs.extend(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return pairs
    return [(prefix, value)]


def cell(value: Any) -> str:
    """A scalar as CSV text: null → empty, booleans ``True``/``False`` (as the platform
    writes them), numbers as in JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """RFC 4180 CSV (minimal quoting, ``\\n`` line ends, UTF-8), cells via :func:`cell`."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def to_json(value: Any) -> bytes:
    """Pretty JSON (2-space indent, UTF-8, trailing newline)."""
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _canonical(value: Any) -> Any:
    """A copy with object keys in natural order (stable JSON whatever the input order)."""
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value, key=natural_key)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _drop_birthdates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_birthdates(v) for k, v in value.items() if k != DROP_LEAF}
    if isinstance(value, list):
        return [_drop_birthdates(v) for v in value]
    return value


def _frame_order(record: Record) -> list[str]:
    exp = record["response"]["exp_data"] or {}
    seen = [f for f in dict.fromkeys(record["response"]["sequence"] or ()) if f in exp]
    rest = sorted((f for f in exp if f not in seen), key=natural_key)
    return [*seen, *rest]


def _clean_frame(frame: Mapping[str, Any]) -> dict[str, Any]:
    """A frame's data as published: no ``frameType``, no ``birthDate`` anywhere."""
    return _drop_birthdates({k: v for k, v in frame.items() if k not in FRAME_DROP_KEYS})


def _ordered(columns: Iterable[str], fixed: Sequence[str]) -> list[str]:
    """Fixed columns first (in their order), then the others in natural order."""
    present = set(columns)
    extra = sorted(present - set(fixed), key=natural_key)
    return [c for c in fixed if c in present] + extra


# --------------------------------------------------------------------------- per record


def _exit_value(record: Record, key: str) -> Any:
    for _, frame in exit_frames(record):
        if frame.get(key) not in (None, ""):
            return frame[key]
    return None


def _birthdate_difference(record: Record) -> int | None:
    """Days from the child's registered birthday to the birth date given in the exit
    survey (a data-quality check; 0 when they agree)."""
    entered, birthday = _exit_value(record, DROP_LEAF), record["child"]["birthday"]
    if entered in (None, "") or birthday in (None, ""):
        return None
    try:
        return (parse_birthday(entered) - parse_birthday(birthday)).days
    except (TypeError, ValueError):
        return None


def _ages(record: Record) -> tuple[int | None, int | None]:
    birthday = record["child"]["birthday"]
    if birthday in (None, ""):
        return None, None
    days = age_in_days(record["response"]["date_created"], birthday)
    return days, round_age(days)


def _sections(record: Record, settings: StudySettings, ruling: Ruling | None) -> dict[str, dict]:
    """All publishable-or-identifying values of one response, by section, unfiltered."""
    response, child, participant = record["response"], record["child"], record["participant"]
    days, rounded = _ages(record)
    return {
        "response": {
            "id": response["id"],
            "uuid": response["uuid"],
            "date_created": iso_utc(parse_timestamp(response["date_created"])),
            "completed": response["completed"],
            "withdrawn": is_withdrawn(record),
            "is_preview": response["is_preview"],
            "completed_consent_frame": response["completed_consent_frame"],
            "birthdate_difference": _birthdate_difference(record),
            "video_privacy": _exit_value(record, "useOfMedia"),
            "databrary": _exit_value(record, "databraryShare"),
            "sequence": list(response["sequence"] or []),
            "conditions": _canonical(response["conditions"] or {}),
        },
        "consent": {
            "ruling": ruling.action if ruling else None,
            "arbiter": ruling.arbiter if ruling else None,
            "time": ruling.created_iso if ruling else None,
            "comment": ruling.comment if ruling else None,
        },
        "study": {"uuid": record["study"]["uuid"]},
        "participant": {
            "global_id": participant["global_id"],
            "hashed_id": settings.hashed(participant["global_id"]),
            "nickname": participant["nickname"],
        },
        "child": {
            "global_id": child["global_id"],
            "hashed_id": settings.hashed(child["global_id"]),
            "name": child["name"],
            "birthday": child["birthday"],
            "age_in_days": days,
            "age_rounded": rounded,
            "gender": child["gender"],
            "age_at_birth": child["age_at_birth"],
            "language_list": child["language_list"],
            "condition_list": child["condition_list"],
            "additional_information": child["additional_information"],
        },
    }


def _allowed(column: str, settings: StudySettings) -> bool:
    return column not in IDENTIFYING or column in settings.identifying


def _select(section: str, values: Mapping[str, Any], settings: StudySettings) -> dict[str, Any]:
    return {k: v for k, v in values.items() if _allowed(f"{section}__{k}", settings)}


# --------------------------------------------------------------------------- descriptions

DESCRIPTIONS = {
    "response__id": "Short ID for this response (an integer)",
    "response__uuid": "Unique identifier for this response; use as the primary key",
    "response__date_created": "Time the response was started (ISO 8601, UTC)",
    "response__completed": (
        "Whether the participant submitted the exit survey (True also after leaving early "
        "via F1 and submitting the exit survey)"
    ),
    "response__withdrawn": (
        "Whether the participant withdrew video in the exit survey; if True only consent "
        "video is available"
    ),
    "response__is_preview": "Whether this response was a researcher's preview",
    "response__completed_consent_frame": "Whether the participant completed the consent frame",
    "response__birthdate_difference": (
        "Days between the birth date entered in the exit survey and the child's registered "
        "birthday (0 when they agree); the birth dates themselves are not included"
    ),
    "response__video_privacy": "Privacy level for videos chosen in the exit survey",
    "response__databrary": "Whether the participant agreed to share video on Databrary",
    "consent__ruling": "Most recent consent ruling for this response (accepted)",
    "consent__arbiter": "Researcher who made the most recent consent ruling",
    "consent__time": "Time of the most recent consent ruling (ISO 8601, UTC)",
    "consent__comment": "Free-text comment of the consent ruling. " + REDACT,
    "study__uuid": "Unique identifier of the study",
    "participant__global_id": ("Global ID of the family account, shared across studies. " + REDACT),
    "participant__hashed_id": (
        "Identifier of the family account, specific to this study; may be published"
    ),
    "participant__nickname": "Nickname of the family account (free text). " + REDACT,
    "child__global_id": "Global ID of the child, shared across studies. " + REDACT,
    "child__hashed_id": "Identifier of the child, specific to this study; may be published",
    "child__name": "Child's name. " + REDACT,
    "child__birthday": "Child's birthday. " + REDACT,
    "child__age_in_days": (
        "Child's age in days on the day of the response (UTC); with the response date it "
        "gives the birthday. " + REDACT
    ),
    "child__age_rounded": (
        "Child's age in days on the day of the response, rounded to the nearest 10 days up "
        "to 360 days and to the nearest 30 days after (halves to even); may be published"
    ),
    "child__gender": "Child's gender (m, f, o, or na)",
    "child__age_at_birth": "Gestational age at birth in weeks",
    "child__language_list": "Languages the child is exposed to (space-separated codes)",
    "child__condition_list": "Conditions the child has (space-separated codes)",
    "child__additional_information": (
        "Free-text additional information about the child from the parent. " + REDACT
    ),
    "demographic__hashed_id": (
        "Identifier of this demographic snapshot, specific to this study; may be published"
    ),
    "demographic__date_created": "Time the demographic snapshot was created (ISO 8601)",
    "demographic__number_of_children": "Number of children in the family",
    "demographic__child_rounded_ages": (
        "Rounded ages in days of the family's children when the snapshot was created "
        "(the birthdays themselves are not included)"
    ),
    "demographic__number_of_guardians": "Number of parents/guardians",
    "demographic__us_race_ethnicity_identification": "Race/ethnicity identification (codes)",
    "demographic__parent_age": "Parent's age range",
    "demographic__parent_gender": "Parent's gender",
    "demographic__education_level": "Parent's highest education level",
    "demographic__annual_income": "Annual household income range",
    "demographic__country": "Country of residence",
    "demographic__state": "State of residence (US)",
    "demographic__density": "Population density of the residence (urban, suburban, rural)",
    "response_uuid": "Unique identifier of the response",
    "child_hashed_id": "Identifier of the child, specific to this study",
    "frame_id": (
        "Frame the data comes from: <order>-<frame id> as in response__sequence, or "
        "'global' for events not tied to a frame"
    ),
    "event_number": (
        "For event data (eventTimings), the index of the event within the frame; empty for "
        "data about the frame as a whole"
    ),
    "key": "Name of the value, nested names joined by '.' (array items by index)",
    "value": (
        "The value. May include free text typed by parents (e.g. exit-survey feedback, "
        "form answers): review before publication"
    ),
}


def _describe(column: str) -> str:
    if column in DESCRIPTIONS:
        return DESCRIPTIONS[column]
    if column.startswith("response__sequence."):
        return "Frame the participant saw at this position of the sequence (<order>-<frame id>)"
    if column.startswith("response__conditions."):
        path = column.split(".", 1)[1]
        return f"Condition assignment by a randomizer frame ({path})"
    base = column.split(".", 1)[0]
    if base in DESCRIPTIONS:
        return DESCRIPTIONS[base] + " (item " + column.split(".", 1)[1] + ")"
    return "RESEARCHER: INSERT DESCRIPTION"


def _dict_csv(columns: Sequence[str]) -> bytes:
    return to_csv(["column", "description"], [(c, _describe(c)) for c in columns])


# --------------------------------------------------------------------------- responses

RESPONSE_FIXED = [
    "response__id",
    "response__uuid",
    "response__date_created",
    "response__completed",
    "response__withdrawn",
    "response__is_preview",
    "response__completed_consent_frame",
    "response__birthdate_difference",
    "response__video_privacy",
    "response__databrary",
]
TAIL_FIXED = [
    "consent__ruling",
    "consent__arbiter",
    "consent__time",
    "consent__comment",
    "study__uuid",
    "participant__global_id",
    "participant__hashed_id",
    "participant__nickname",
    "child__global_id",
    "child__hashed_id",
    "child__name",
    "child__birthday",
    "child__age_in_days",
    "child__age_rounded",
    "child__gender",
    "child__age_at_birth",
    "child__language_list",
    "child__condition_list",
    "child__additional_information",
]


def _overview_row(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for section, values in sections.items():
        for key, value in values.items():
            if isinstance(value, dict | list):
                row.update(flatten(value, f"{section}__{key}"))
            else:
                row[f"{section}__{key}"] = value
    return row


def responses_table(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the response overview (one row per response)."""
    rows = []
    for record in records:
        sections = _sections(record, settings, rulings.get(record["response"]["uuid"]))
        row = _overview_row(sections)
        rows.append({k: v for k, v in row.items() if _allowed(k, settings)})
    present = {c for row in rows for c in row}
    seq = sorted((c for c in present if c.startswith("response__sequence.")), key=natural_key)
    cond = sorted((c for c in present if c.startswith("response__conditions.")), key=natural_key)
    columns = [c for c in RESPONSE_FIXED if _allowed(c, settings)] + seq + cond
    columns += [c for c in TAIL_FIXED if _allowed(c, settings)]
    return columns, rows


def responses_json(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> list[dict[str, Any]]:
    """The response records nested as published (same fields as the overview CSV, plus
    ``exp_data`` and ``global_event_timings`` filtered like the frame data)."""
    out = []
    for record in records:
        sections = _sections(record, settings, rulings.get(record["response"]["uuid"]))
        nested = {name: _select(name, values, settings) for name, values in sections.items()}
        exp = record["response"]["exp_data"] or {}
        nested["response"]["exp_data"] = {
            fid: _canonical(_drop_birthdates(exp[fid])) for fid in _frame_order(record)
        }
        nested["response"]["global_event_timings"] = _canonical(
            _drop_birthdates(record["response"]["global_event_timings"] or [])
        )
        out.append(nested)
    return out


# --------------------------------------------------------------------------- frame data

FRAME_COLUMNS = ["response_uuid", "child_hashed_id", "frame_id", "event_number", "key", "value"]


def frame_rows(record: Record, child_hashed_id: str) -> list[tuple[str, str, str, Any, str, Any]]:
    """Long-format frame data of one response (SPEC §4.3).

    Per frame in sequence order: the frame's own values (``formData.x``, ``videoId``…,
    natural order, ``event_number`` empty), then its events (``eventTimings.N.k`` gives
    ``event_number=N, key=k``); then ``global_event_timings`` as ``frame_id=global``.
    ``frameType`` and every ``birthDate`` are not written; empty arrays/objects vanish.
    """
    uid = record["response"]["uuid"]
    exp = record["response"]["exp_data"] or {}
    rows: list[tuple[str, str, str, Any, str, Any]] = []
    for fid in _frame_order(record):
        plain: list[tuple[str, Any]] = []
        events: list[tuple[int, str, Any]] = []
        for key, value in _clean_frame(exp[fid]).items():
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
        _drop_birthdates(record["response"]["global_event_timings"]) or []
    ):
        pairs = sorted(flatten(event), key=lambda p: natural_key(p[0]))
        rows.extend((uid, child_hashed_id, "global", number, path, v) for path, v in pairs)
    return rows


def _zip(entries: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name], compresslevel=6)
    return buffer.getvalue()


_KNOWN_KEYS = {
    "eventType": "Type of the event (frame type and event name)",
    "timestamp": "Time of the event (ISO 8601, UTC)",
    "streamTime": "Time in the video stream (seconds) when the event happened, if recording",
    "exitType": "How the participant left the study early",
    "lastPageSeen": "Index of the last frame seen before leaving early",
    "videoId": "Name of the video file recorded during this frame (without extension)",
    "videoList.N": "Names of all video files recorded during this frame",
    "withdrawal": "Whether the parent withdrew video (only consent video kept)",
    "useOfMedia": "Privacy level for videos chosen by the parent",
    "databraryShare": "Whether the parent agreed to share video on Databrary",
    "feedback": "Parent's free-text feedback: review before publication",
}


def _key_pattern(path: str) -> str:
    return ".".join("N" if part.isdigit() else part for part in path.split("."))


def frames_dict(all_rows: Iterable[tuple]) -> bytes:
    """The frame data dictionary: the columns, then every frame ID and every key per
    frame, with ``RESEARCHER: INSERT …`` placeholders for study-specific ones."""
    frames: set[str] = set()
    keys: set[tuple[str, str, bool]] = set()
    for _, _, fid, number, key, _ in all_rows:
        frames.add(fid)
        keys.add((fid, _key_pattern(key), number != ""))
    out = [(c, "", "", DESCRIPTIONS[c]) for c in FRAME_COLUMNS]
    for fid in sorted(frames, key=natural_key):
        text = "Events not tied to a frame (e.g. leaving early)" if fid == "global" else None
        out.append(("frame_id", fid, "", text or FRAME_PLACEHOLDER))
    for fid, pattern, is_event in sorted(keys, key=lambda k: (natural_key(k[0]), k[2], k[1])):
        text = _KNOWN_KEYS.get(pattern, KEY_PLACEHOLDER)
        kind = "event" if is_event else "frame"
        out.append(("key", pattern, fid, f"[{kind}] {text}"))
    return to_csv(["column", "possible_value", "frame_id", "description"], out)


# --------------------------------------------------------------------------- children

CHILD_COLUMNS = [
    "child__hashed_id",
    "child__global_id",
    "child__name",
    "child__birthday",
    "child__gender",
    "child__age_at_birth",
    "child__language_list",
    "child__condition_list",
    "child__additional_information",
    "participant__hashed_id",
    "participant__global_id",
]


def children_table(
    records: Sequence[Record], settings: StudySettings
) -> tuple[list[str], list[list[Any]]]:
    """One row per child (the child's data as of its newest response), sorted by hashed ID."""
    latest: dict[str, Record] = {}
    for record in records:  # sorted by time: the newest response of a child wins
        latest[record["child"]["global_id"]] = record
    columns = [c for c in CHILD_COLUMNS if _allowed(c, settings)]
    rows = []
    for gid, record in latest.items():
        values = {f"child__{k}": v for k, v in record["child"].items()}
        values["child__hashed_id"] = settings.hashed(gid)
        values["participant__hashed_id"] = settings.hashed(record["participant"]["global_id"])
        values["participant__global_id"] = record["participant"]["global_id"]
        rows.append(([values[c] for c in columns], gid))
    rows.sort(key=lambda r: (r[0][0], r[1]))
    return columns, [r[0] for r in rows]


# --------------------------------------------------------------------------- demographics

DEMOGRAPHIC_FIELDS = [
    "hashed_id",
    "date_created",
    "number_of_children",
    "child_rounded_ages",
    "number_of_guardians",
    "us_race_ethnicity_identification",
    "parent_age",
    "parent_gender",
    "education_level",
    "annual_income",
    "country",
    "state",
    "density",
]


def _demographic(record: Record, settings: StudySettings) -> dict[str, Any]:
    snap = record["demographic"] or {}
    values: dict[str, Any] = {k: snap.get(k) for k in DEMOGRAPHIC_FIELDS}
    values["hashed_id"] = settings.hashed(snap.get("uuid"))
    created = snap.get("date_created") or record["response"]["date_created"]
    ages = []
    for birthday in snap.get("child_birthdays") or []:
        try:
            ages.append(round_age(age_in_days(created, birthday)))
        except (TypeError, ValueError):
            ages.append(None)
    values["child_rounded_ages"] = ages
    race = values["us_race_ethnicity_identification"]
    if not isinstance(race, list):
        values["us_race_ethnicity_identification"] = [] if race in (None, "") else [race]
    if snap.get("date_created"):
        try:
            values["date_created"] = iso_utc(parse_timestamp(snap["date_created"]))
        except (TypeError, ValueError):
            pass
    return values


def demographics(
    records: Sequence[Record], settings: StudySettings
) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """Columns, CSV rows and JSON records of the demographic snapshots (one per response)."""
    fixed = ["response__uuid", "participant__hashed_id"] + [
        f"demographic__{k}" for k in DEMOGRAPHIC_FIELDS
    ]
    rows, nested = [], []
    for record in records:
        values = _demographic(record, settings)
        head = {
            "response": {"uuid": record["response"]["uuid"]},
            "participant": {"hashed_id": settings.hashed(record["participant"]["global_id"])},
            "demographic": values,
        }
        nested.append(head)
        rows.append(_overview_row(head))
    present = {c for row in rows for c in row}
    columns = []
    for column in fixed:
        items = sorted((c for c in present if c.startswith(column + ".")), key=natural_key)
        columns.extend(items or [column])
    return columns, rows, nested


# --------------------------------------------------------------------------- all files


def build_outputs(
    records: Iterable[Record],
    settings: StudySettings,
    rulings: Mapping[str, Ruling],
    videos: Iterable[Video] = (),
) -> dict[str, bytes]:
    """Every published file of SPEC §4.3, file name → bytes.

    ``records`` are the published responses (:func:`pipeline.session.rules.select_published`);
    duplicates are merged and rows sorted by response time and UUID. ``rulings`` maps
    response UUID to the ruling in force. ``videos`` are filtered again here: only videos
    of these responses and this study, consent videos only after a withdrawal.
    """
    ordered = merge_records(records)
    names = output_names(settings)
    files: dict[str, bytes] = {}

    columns, rows = responses_table(ordered, settings, rulings)
    files[names["responses_csv"]] = to_csv(columns, ([r.get(c) for c in columns] for r in rows))
    files[names["responses_dict"]] = _dict_csv(columns)
    files[names["responses_json"]] = to_json(responses_json(ordered, settings, rulings))

    entries, all_rows = {}, []
    for record in ordered:
        rows_ = frame_rows(record, settings.hashed(record["child"]["global_id"]))
        all_rows.extend(rows_)
        entries[f"{settings.slug}_{record['response']['uuid']}_frames.csv"] = to_csv(
            FRAME_COLUMNS, rows_
        )
    files[names["framedata_zip"]] = _zip(entries)
    files[names["frames_dict"]] = frames_dict(all_rows)

    child_columns, child_rows = children_table(ordered, settings)
    files[names["children_csv"]] = to_csv(child_columns, child_rows)
    files[names["children_dict"]] = _dict_csv(child_columns)

    demo_columns, demo_rows, demo_json = demographics(ordered, settings)
    files[names["demographics_csv"]] = to_csv(
        demo_columns, ([r.get(c) for c in demo_columns] for r in demo_rows)
    )
    files[names["demographics_json"]] = to_json(demo_json)
    files[names["demographics_dict"]] = _dict_csv(demo_columns)

    shown = listed_videos(videos, ordered, settings.study_uuid)
    files[names["videos_csv"]] = to_csv(
        VIDEO_COLUMNS,
        ((v.video_file, v.response_uuid, v.frame_id, v.timestamp, v.is_consent) for v in shown),
    )
    return files


VIDEO_COLUMNS = ["video_file", "response_uuid", "frame_id", "timestamp", "is_consent"]


def collisions(records: Iterable[Record], settings: StudySettings) -> list[Collision]:
    """Hashed IDs shared by two global IDs among the accounts, children and demographic
    snapshots of these records (all kinds checked together)."""
    pairs = []
    for record in records:
        for gid in (
            record["participant"]["global_id"],
            record["child"]["global_id"],
            (record["demographic"] or {}).get("uuid"),
        ):
            if gid:
                pairs.append((gid, settings.hashed(gid)))
    return find_collisions(pairs)


def idmap(
    records_a: Iterable[Record],
    settings_a: StudySettings,
    records_b: Iterable[Record],
    settings_b: StudySettings,
) -> bytes:
    """CSV ``Study_1_ID,Study_2_ID``: hashed child IDs (study A, study B) of the children
    present in both record sets, matched by child global ID; sorted, unique."""
    children_a = {r["child"]["global_id"] for r in records_a}
    children_b = {r["child"]["global_id"] for r in records_b}
    pairs = sorted({(settings_a.hashed(g), settings_b.hashed(g)) for g in children_a & children_b})
    return to_csv(["Study_1_ID", "Study_2_ID"], pairs)
