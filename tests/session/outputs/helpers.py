"""Helpers of the published-file tests: reading CSV and ZIP bytes, accepting responses."""

from __future__ import annotations

import csv
import io
import zipfile

from pipeline.session.records import newest_rulings, parse_rulings
from tests.session.factory import rulings_csv

#: The platform's own overview columns with the default download options, in its order
#: (the children file has the same 26; lookit-api `get_response_headers`).
PLATFORM_OWN_COLUMNS = [
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
    "response__sequence",
    "response__conditions",
    "response__researcher_payment_status",
]

#: The platform's participant and child columns, in its order (chosen or not: the
#: children dictionary lists them all; selected ones join the overview after study__uuid).
PLATFORM_PEOPLE_COLUMNS = [
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

DEFAULT_NAMES = [
    "Physics-Study--psychds.zip",
    "Physics-Study_all-children-dict.csv",
    "Physics-Study_all-children.csv",
    "Physics-Study_all-demographic-snapshots-dict.csv",
    "Physics-Study_all-demographic-snapshots.csv",
    "Physics-Study_all-demographic-snapshots.json",
    "Physics-Study_all-frames-dict.csv",
    "Physics-Study_all-frames.csv.gz",
    "Physics-Study_all-responses-dict.csv",
    "Physics-Study_all-responses.csv",
    "Physics-Study_all-responses.json",
    "Physics-Study_framedata_per_session.zip",
    "Physics-Study_videos.csv",
]
FRAMES_DICT_HEADER = [
    "column",
    "description",
    "possible_frame_id",
    "frame_description",
    "possible_key",
    "key_description",
]


def csv_rows(data: bytes) -> list[dict[str, str]]:
    """The rows of CSV bytes, by column name."""
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def csv_header(data: bytes) -> list[str]:
    """The header row of CSV bytes."""
    return next(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def zip_entries(data: bytes) -> dict[str, bytes]:
    """The entries of ZIP bytes, name → bytes, in archive order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def accept_all(*records: dict) -> dict:
    """Rulings in force accepting the responses named ``records`` (names for ``uid``)."""
    rows = [(r, "accepted", "2024-03-03T00:00:00Z") for r in records]
    return newest_rulings(parse_rulings(rulings_csv(*rows), "c.csv"))
