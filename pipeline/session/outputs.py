"""The published files of a session study (SPEC §4.3) and the cross-study ID map.

Compatibility is the rule: column names, their order, value formats (:mod:`.formats`)
and dictionary layouts (:mod:`.dictionaries`) follow the source platform's downloads, so
researchers' scripts written against them run unchanged. Beyond the platform: a Psych-DS
dataset (:mod:`.psychds`) and one gzipped CSV of all frame data.

Every builder is a pure function of the published records and the study settings and
returns bytes; rows are sorted and columns ordered deterministically, ZIP entries carry a
fixed timestamp and gzip ``mtime=0``, so the same input always gives byte-identical files.

Privacy: the identifying columns (:data:`IDENTIFYING`) are written only when selected in
``StudySettings.identifying``; global IDs, names, birthdays, exact ages, the nickname,
the child's additional information and the exit survey's ``birthDate`` are never written
otherwise. Free text the platform publishes (consent comment, parent feedback, the
demographic comments and referrer) is published with a redaction note in its dictionary.

Decisions where the platform gives no answer (also in the README):

- Exit-survey values come from the last exit frame in the order the participant saw them
  (``sequence``); ``parent_feedback`` falls back to the record's own field only when the
  response has no exit frame at all.
- ``response__eligibility`` is one cell, the codes separated by spaces (the platform's
  dictionary says so); the JSON keeps the list.
- ``response__completed_consent_frame`` is not published (every published response has it).
- A frame whose data is not an object is one frame-data row with an empty ``key`` and the
  whole value (lists as Python's text of them).
- The children file has one row per child: the profile of its newest response, the ages
  at its first response (the platform's row is the child's first response, with the
  current profile).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.session.ages import age_in_days, parse_birthday, parse_timestamp, round_age
from pipeline.session.dictionaries import (
    DEMOGRAPHIC_DESCRIPTIONS,
    dictionary_csv,
    frames_dictionary,
)
from pipeline.session.formats import (
    cell,
    gzip_bytes,
    platform_datetime,
    ruling_time,
    to_csv,
    to_json,
    zip_bytes,
)
from pipeline.session.hashing import DEFAULT_DIGITS, Collision, find_collisions, hash_id
from pipeline.session.psychds import DataFile, psychds_zip
from pipeline.session.records import (
    Record,
    Ruling,
    Video,
    frame_order,
    merge_records,
    natural_key,
)
from pipeline.session.rules import exit_frames, exit_value, is_withdrawn, listed_videos

#: Columns written only when selected in ``identifying`` (SPEC §4.2), in the platform's order.
IDENTIFYING = (
    "participant__global_id",
    "participant__nickname",
    "child__global_id",
    "child__name",
    "child__birthday",
    "child__age_in_days",
    "child__additional_information",
)
#: Once opt-in, now always published as the platform does: refused in ``identifying`` so
#: that an operator who withheld it notices (silently publishing it would surprise them).
ALWAYS_PUBLISHED = ("consent__comment",)
IDENTIFIABLE_SUFFIX = "-identifiable"
# Keys never written to frame data / JSON: the frame's type, and birth dates anywhere
# in exp_data (the exit survey asks for the child's birth date again).
FRAME_DROP_KEYS = ("frameType",)
DROP_LEAF = "birthDate"


# --------------------------------------------------------------------------- settings


def study_slug(name: str) -> str:
    """``{study}`` in file names: every character that is not a letter or digit (Unicode
    ``isalnum``) → ``-``; ``Étude des bébés`` → ``Étude-des-bébés``."""
    return "".join(c if c.isalnum() else "-" for c in name)


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
        always = sorted(set(chosen) & set(ALWAYS_PUBLISHED))
        if always:
            raise ValueError(
                f"{', '.join(always)} is always published now (as the platform does, with a "
                "redaction note in the dictionary): remove it from identifying"
            )
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
        "all_frames_gz": f"{s}_all-frames.csv.gz",
        "children_csv": f"{s}_all-children{ident}.csv",
        "children_dict": f"{s}_all-children-dict.csv",
        "demographics_csv": f"{s}_all-demographic-snapshots.csv",
        "demographics_json": f"{s}_all-demographic-snapshots.json",
        "demographics_dict": f"{s}_all-demographic-snapshots-dict.csv",
        "videos_csv": f"{s}_videos.csv",
        "psychds_zip": f"{s}--psychds.zip",
    }


# --------------------------------------------------------------------------- helpers


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


def conditions_list(conditions: Any) -> list[Any]:
    """``conditions`` as the platform publishes them: a list of groups, each with its
    randomizer frame as ``frameName``. A mapping frame → values (the platform's storage
    form) becomes ``[{"frameName": frame, **values}, …]`` in natural frame order (values
    that are not an object are kept under ``value``); a list is kept as it is."""
    if isinstance(conditions, dict):
        groups = []
        for frame in sorted(conditions, key=natural_key):
            values = conditions[frame]
            groups.append(
                {"frameName": frame, **(values if isinstance(values, dict) else {"value": values})}
            )
        return groups
    return list(conditions or [])


# --------------------------------------------------------------------------- per record


def _birthdate_difference(record: Record) -> int | None:
    """Days from the child's registered birthday to the birth date given in the last exit
    survey (a data-quality check; 0 when they agree)."""
    entered, birthday = exit_value(record, DROP_LEAF), record["child"]["birthday"]
    if entered in (None, "") or birthday in (None, ""):
        return None
    try:
        return (parse_birthday(entered) - parse_birthday(birthday)).days
    except (TypeError, ValueError):
        return None


def _parent_feedback(record: Record) -> Any:
    """The last exit survey's ``feedback``; the record's ``parent_feedback`` only when the
    response has no exit frame (a record exported with the field but without frames)."""
    if exit_frames(record):
        return exit_value(record, "feedback")
    return record["response"]["parent_feedback"]


def _ages(birthday: Any, when: str) -> tuple[int | None, int | None]:
    """Exact and rounded age in days at the UTC date of ``when`` (None without a birthday)."""
    if birthday in (None, ""):
        return None, None
    days = age_in_days(when, birthday)
    return days, round_age(days)


def _sections(record: Record, settings: StudySettings, ruling: Ruling | None) -> dict[str, dict]:
    """All publishable-or-identifying values of one response, by section, unfiltered, in
    the platform's order and formats (lists and objects as JSON values)."""
    response, child, participant = record["response"], record["child"], record["participant"]
    days, rounded = _ages(child["birthday"], response["date_created"])
    return {
        "response": {
            "id": response["id"],
            "uuid": response["uuid"],
            "date_created": platform_datetime(parse_timestamp(response["date_created"])),
            "completed": response["completed"],
            "withdrawn": is_withdrawn(record),
            "eligibility": response["eligibility"],
            "parent_feedback": _parent_feedback(record),
            "birthdate_difference": _birthdate_difference(record),
            "video_privacy": exit_value(record, "useOfMedia"),
            "databrary": exit_value(record, "databraryShare"),
            "is_preview": response["is_preview"],
            "sequence": list(response["sequence"] or []),
            "conditions": _canonical(conditions_list(response["conditions"])),
            "researcher_payment_status": response["researcher_payment_status"],
            "researcher_session_status": response["researcher_session_status"],
            "researcher_star": response["researcher_star"],
        },
        "consent": {
            "ruling": ruling.action if ruling else None,
            "arbiter": ruling.arbiter if ruling else None,
            "time": ruling_time(ruling.created_at) if ruling else None,
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


# --------------------------------------------------------------------------- responses

#: The overview's columns before the selected identifying ones (SPEC §4.3).
OVERVIEW_FIXED = [
    "response__id",
    "response__uuid",
    "response__date_created",
    "response__completed",
    "response__withdrawn",
    "response__eligibility",
    "response__parent_feedback",
    "response__birthdate_difference",
    "response__video_privacy",
    "response__databrary",
    "response__is_preview",
    "consent__ruling",
    "consent__arbiter",
    "consent__time",
    "consent__comment",
    "study__uuid",
    "participant__hashed_id",
    "child__hashed_id",
    "child__age_rounded",
    "child__gender",
    "child__age_at_birth",
    "child__language_list",
    "child__condition_list",
]
#: The overview's last columns, after the flattened sequence and conditions.
RESEARCHER_FIELDS = [
    "response__researcher_payment_status",
    "response__researcher_session_status",
    "response__researcher_star",
]
#: Lists written in one cell, items separated by spaces (as the platform's dictionary says).
SPACE_SEPARATED = ("response__eligibility",)


def _overview_row(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for section, values in sections.items():
        for key, value in values.items():
            column = f"{section}__{key}"
            if column in SPACE_SEPARATED and isinstance(value, list):
                row[column] = " ".join(cell(v) for v in value)
            elif isinstance(value, dict | list):
                row.update(flatten(value, column))
            else:
                row[column] = value
    return row


def responses_table(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the response overview (one row per response): the fixed
    columns, the selected identifying ones, the flattened ``response__sequence.N`` and
    ``response__conditions.N.*`` (natural order), then the researcher fields."""
    rows = []
    for record in records:
        sections = _sections(record, settings, rulings.get(record["response"]["uuid"]))
        row = _overview_row(sections)
        rows.append({k: v for k, v in row.items() if _allowed(k, settings)})
    present = {c for row in rows for c in row}
    seq = sorted((c for c in present if c.startswith("response__sequence.")), key=natural_key)
    cond = sorted((c for c in present if c.startswith("response__conditions.")), key=natural_key)
    columns = [*OVERVIEW_FIXED, *settings.identifying, *seq, *cond, *RESEARCHER_FIELDS]
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
            fid: _canonical(_drop_birthdates(exp[fid])) for fid in frame_order(record)
        }
        nested["response"]["global_event_timings"] = _canonical(
            _drop_birthdates(record["response"]["global_event_timings"] or [])
        )
        out.append(nested)
    return out


# --------------------------------------------------------------------------- frame data

FRAME_COLUMNS = ["response_uuid", "child_hashed_id", "frame_id", "event_number", "key", "value"]
FrameRow = tuple[str, str, str, Any, str, Any]


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
            rows.append((uid, child_hashed_id, fid, "", "", _drop_birthdates(frame)))
            continue
        plain: list[tuple[str, Any]] = []
        events: list[tuple[int, str, Any]] = []
        for key, value in _drop_birthdates(frame).items():
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
        _drop_birthdates(record["response"]["global_event_timings"]) or []
    ):
        pairs = sorted(flatten(event), key=lambda p: natural_key(p[0]))
        rows.extend((uid, child_hashed_id, "global", number, path, v) for path, v in pairs)
    return rows


# --------------------------------------------------------------------------- children

#: The children file's columns before the selected identifying ones.
CHILD_FIXED = [
    "participant__hashed_id",
    "child__hashed_id",
    "child__age_rounded",
    "child__gender",
    "child__age_at_birth",
    "child__language_list",
    "child__condition_list",
]


def children_table(
    records: Sequence[Record], settings: StudySettings
) -> tuple[list[str], list[list[Any]]]:
    """One row per child, sorted by hashed ID: the platform's child columns (identifying
    ones only when selected); the profile of the child's newest response, the ages at its
    first response."""
    first: dict[str, Record] = {}
    latest: dict[str, Record] = {}
    for record in records:  # sorted by time
        first.setdefault(record["child"]["global_id"], record)
        latest[record["child"]["global_id"]] = record
    columns = [*CHILD_FIXED, *settings.identifying]
    rows = []
    for gid, record in latest.items():
        child, participant = record["child"], record["participant"]
        days, rounded = _ages(child["birthday"], first[gid]["response"]["date_created"])
        values = {f"child__{k}": v for k, v in child.items()}
        values.update(
            {
                "child__hashed_id": settings.hashed(gid),
                "child__age_in_days": days,
                "child__age_rounded": rounded,
                "participant__hashed_id": settings.hashed(participant["global_id"]),
                "participant__global_id": participant["global_id"],
                "participant__nickname": participant["nickname"],
            }
        )
        rows.append(([values[c] for c in columns], values["child__hashed_id"], gid))
    rows.sort(key=lambda r: (r[1], r[2]))
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
    "additional_comments",
    "country",
    "state",
    "density",
    "lookit_referrer",
]
DEMOGRAPHIC_COLUMNS = [
    "response__uuid",
    "participant__hashed_id",
    *(f"demographic__{k}" for k in DEMOGRAPHIC_FIELDS),
]


def _rounded_ages(birthdays: Any, when: str) -> list[int | None]:
    """Rounded ages at the UTC date of ``when`` of the birthdays given in a demographic
    snapshot; a birthday that is not a date gives None."""
    ages: list[int | None] = []
    for birthday in birthdays if isinstance(birthdays, list) else [birthdays]:
        try:
            ages.append(round_age(age_in_days(when, birthday)))
        except (TypeError, ValueError):
            ages.append(None)
    return ages


def _demographic(record: Record, settings: StudySettings) -> dict[str, Any]:
    """The snapshot's published fields (JSON values); every field empty without one."""
    snap = record["demographic"]
    if snap is None:
        return {k: None for k in DEMOGRAPHIC_FIELDS} | {"hashed_id": ""}
    values: dict[str, Any] = {k: snap.get(k) for k in DEMOGRAPHIC_FIELDS}
    values["hashed_id"] = settings.hashed(snap["uuid"])
    if snap.get("date_created"):
        try:
            values["date_created"] = platform_datetime(parse_timestamp(snap["date_created"]))
        except (TypeError, ValueError):
            pass
    # at the response's date, as the platform computes them (not the snapshot's)
    birthdays = snap.get("child_birthdays")
    values["child_rounded_ages"] = (
        None if birthdays is None else _rounded_ages(birthdays, record["response"]["date_created"])
    )
    race = values["us_race_ethnicity_identification"]
    if not isinstance(race, list):
        values["us_race_ethnicity_identification"] = [] if race in (None, "") else [race]
    return values


def demographics(
    records: Sequence[Record], settings: StudySettings
) -> tuple[list[str], list[list[Any]], list[dict[str, Any]]]:
    """Columns, CSV rows and JSON records of the demographic snapshots (one per response);
    lists stay in one cell (``[1770]``, ``['white', 'hisp']``)."""
    rows, nested = [], []
    for record in records:
        values = _demographic(record, settings)
        participant = settings.hashed(record["participant"]["global_id"])
        nested.append(
            {
                "response": {"uuid": record["response"]["uuid"]},
                "participant": {"hashed_id": participant},
                "demographic": values,
            }
        )
        rows.append([record["response"]["uuid"], participant, *values.values()])
    return list(DEMOGRAPHIC_COLUMNS), rows, nested


# --------------------------------------------------------------------------- all files

VIDEO_COLUMNS = ["video_file", "response_uuid", "frame_id", "timestamp", "is_consent"]


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
    responses_csv = to_csv(columns, ([r.get(c) for c in columns] for r in rows))
    files[names["responses_csv"]] = responses_csv
    files[names["responses_dict"]] = dictionary_csv(columns)
    files[names["responses_json"]] = to_json(responses_json(ordered, settings, rulings))

    entries, all_rows = {}, []
    for record in ordered:
        rows_ = frame_rows(record, settings.hashed(record["child"]["global_id"]))
        all_rows.extend(rows_)
        entries[f"{settings.slug}_{record['response']['uuid']}_frames.csv"] = to_csv(
            FRAME_COLUMNS, rows_
        )
    files[names["framedata_zip"]] = zip_bytes(entries)
    all_frames_csv = to_csv(FRAME_COLUMNS, all_rows)
    files[names["all_frames_gz"]] = gzip_bytes(all_frames_csv)
    files[names["frames_dict"]] = frames_dictionary(all_rows, FRAME_COLUMNS)

    child_columns, child_rows = children_table(ordered, settings)
    children_csv = to_csv(child_columns, child_rows)
    files[names["children_csv"]] = children_csv
    files[names["children_dict"]] = dictionary_csv(child_columns)

    demo_columns, demo_rows, demo_json = demographics(ordered, settings)
    demographics_csv = to_csv(demo_columns, demo_rows)
    files[names["demographics_csv"]] = demographics_csv
    files[names["demographics_json"]] = to_json(demo_json)
    files[names["demographics_dict"]] = dictionary_csv(demo_columns, DEMOGRAPHIC_DESCRIPTIONS)

    shown = listed_videos(videos, ordered, settings.study_uuid)
    files[names["videos_csv"]] = to_csv(
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

    ident = settings.identifiable
    files[names["psychds_zip"]] = psychds_zip(
        settings.study_name,
        settings.study_uuid,
        [
            DataFile("responses", columns, responses_csv, "one row per response", ident),
            DataFile("children", child_columns, children_csv, "one row per child", ident),
            DataFile(
                "demographics",
                demo_columns,
                demographics_csv,
                "one row per response: the family's demographic snapshot at that time",
                descriptions=DEMOGRAPHIC_DESCRIPTIONS,
            ),  # fmt: skip
            DataFile("frames", FRAME_COLUMNS, all_frames_csv, "frame data, one row per value"),
        ],
    )
    return files


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
