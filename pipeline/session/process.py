"""From the raw files of a session drop to the published files, in one call.

A thin composition of :mod:`.records`, :mod:`.rules` and :mod:`.outputs` for the Dagster
assets and the command line: malformed files are collected (to be quarantined) and bad
records set aside, not raised, so the other files and records still go through (SPEC §6).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from pipeline.config import DEFAULT_TIMEZONE
from pipeline.session.ages import parse_timestamp
from pipeline.session.hashing import Collision
from pipeline.session.outputs import StudySettings, build_outputs, collisions
from pipeline.session.records import (
    Record,
    Ruling,
    SessionInputError,
    Video,
    input_kind,
    merge_records,
    newest_rulings,
    parse_rulings,
    parse_video_list,
    read_responses,
)
from pipeline.session.rules import for_day, select_published


@dataclass
class Drop:
    """The parsed content of a set of raw files."""

    records: list[Record] = field(default_factory=list)  # merged, one per response
    rulings: dict[str, Ruling] = field(default_factory=dict)  # in force, by response UUID
    videos: list[Video] = field(default_factory=list)
    errors: list[SessionInputError] = field(default_factory=list)  # files to quarantine
    set_aside: list[SessionInputError] = field(default_factory=list)  # bad records, 1-based
    unknown_keys: Counter[str] = field(default_factory=Counter)  # accepted, by key name
    ruling_rows: list[Ruling] = field(default_factory=list)  # every ruling read, in file order
    ignored: list[str] = field(default_factory=list)  # names of no known kind


def load_drop(
    files: Mapping[str, bytes], study_uuid: str | None = None, as_of: datetime | None = None
) -> Drop:
    """Parse raw files by name (``*.json``, ``*consent*.csv``, ``*videos*.txt``).

    Files are read in name order. A responses file is judged record by record: a bad
    record lands in ``set_aside`` (file, record number, line) and the file's other records
    count; a file that is not JSON at all, like any other malformed file, lands in
    ``errors`` whole (none of its content is used).
    """
    drop, records, rulings = Drop(), [], []
    for name in sorted(files):
        kind = input_kind(name)
        try:
            if kind == "responses":
                read = read_responses(files[name], name, study_uuid)
                records.extend(read.records)
                drop.set_aside.extend(read.set_aside)
                drop.unknown_keys.update(read.unknown_keys)
            elif kind == "rulings":
                rulings.extend(parse_rulings(files[name], name))
            elif kind == "videos":
                drop.videos.extend(parse_video_list(files[name], name))
            else:
                drop.ignored.append(name)
        except SessionInputError as exc:
            drop.errors.append(exc)
    if as_of is not None:  # the drop as it stood then: later records and rulings wait
        records = [r for r in records if parse_timestamp(r["response"]["date_created"]) <= as_of]
        rulings = [r for r in rulings if r.created_at <= as_of]
    drop.records = merge_records(records)
    drop.ruling_rows = rulings
    drop.rulings = newest_rulings(rulings)
    return drop


@dataclass
class SessionResult:
    """Everything a run needs to publish and report."""

    files: dict[str, bytes]  # published file name -> bytes
    drop: Drop
    published: list[Record]
    excluded: Counter[str]  # reason -> count
    days: dict[str, date]  # response UUID -> `for` day, every response of the drop
    collisions: list[Collision]

    @property
    def published_days(self) -> set[date]:
        """The `for` days that have at least one published response."""
        return {self.days[r["response"]["uuid"]] for r in self.published}


def process_drop(
    files: Mapping[str, bytes],
    settings: StudySettings,
    include_preview: bool = False,
    timezone: str = DEFAULT_TIMEZONE,
    as_of: datetime | None = None,
) -> SessionResult:
    """Parse a drop, select the publishable responses, and build every published file.

    With ``as_of``, responses created and rulings made after that moment are left for a
    later run (so a past night can be replayed)."""
    drop = load_drop(files, settings.study_uuid, as_of)
    selection = select_published(drop.records, drop.rulings, include_preview)
    return SessionResult(
        files=build_outputs(selection.published, settings, drop.rulings, drop.videos),
        drop=drop,
        published=selection.published,
        excluded=selection.excluded,
        days={r["response"]["uuid"]: for_day(r, timezone) for r in drop.records},
        collisions=collisions(selection.published, settings),
    )
