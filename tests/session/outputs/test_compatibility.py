"""Every published file compared with the platform's downloads (SPEC §4.3), through
:mod:`pipeline.session.outputs.build`."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile

from pipeline.session.process import process_drop
from tests.session.factory import STUDY, dump, make_record, settings, uid
from tests.session.outputs.helpers import (
    DEFAULT_NAMES,
    FRAMES_DICT_HEADER,
    PLATFORM_OWN_COLUMNS,
    csv_rows,
    zip_entries,
)

OVERVIEW_HEADER = PLATFORM_OWN_COLUMNS


DEMOGRAPHICS_HEADER = [
    "response__uuid",
    "participant__hashed_id",
    "demographic__hashed_id",
    "demographic__date_created",
    "demographic__number_of_children",
    "demographic__child_rounded_ages",
    "demographic__number_of_guardians",
    "demographic__us_race_ethnicity_identification",
    "demographic__parent_age",
    "demographic__parent_gender",
    "demographic__education_level",
    "demographic__annual_income",
    "demographic__additional_comments",
    "demographic__country",
    "demographic__state",
    "demographic__density",
    "demographic__lookit_referrer",
]


CHILDREN_HEADER = OVERVIEW_HEADER  # the platform's own overview columns (26)


FRAME_HEADER = ["response_uuid", "child_hashed_id", "frame_id", "event_number", "key", "value"]


STUDY_NAME = "Étude des bébés"


SLUG = "Étude-des-bébés"


def _compat_drop() -> dict[str, bytes]:
    """A fixed study of two sessions covering every compatibility point of issue 13."""
    first = make_record(
        "compat-1",
        created="2024-01-01T16:27:08.395Z",
        birthday="2019-02-14",
        conditions={"1-survey": {"conditionNum": 2, "parameterSet": {"Q1": "color"}}},
        eligibility=["Ineligible_TooYoung", "Ineligible_CriteriaExpression"],
        researcher_payment_status="to_pay",
        researcher_session_status="follow_up",
        researcher_star=True,
    )
    exp = first["response"]["exp_data"]
    exp["2-exit-survey"].update(
        useOfMedia="public", databraryShare="yes", withdrawal=True, feedback="First try"
    )
    exp["3-exit-survey"] = {
        **exp["2-exit-survey"],
        "useOfMedia": "private",
        "databraryShare": "no",
        "withdrawal": False,
        "feedback": "Lovely, thanks",
        "birthDate": "2019-02-16T05:00:00.000Z",
    }
    first["response"]["sequence"].append("3-exit-survey")
    first["demographic"].update(
        date_created="2023-06-01T09:30:00.5Z",
        child_birthdays=["2019-02-14", "2022-12-25"],
        us_race_ethnicity_identification=["white", "hisp"],
    )
    second = make_record(
        "compat-2", created="2024-01-03T08:00:00Z", child="child-2", birthday="2023-03-01"
    )
    second["response"]["exp_data"]["1-survey"] = ["jsPsych", 2]  # not an object
    second["demographic"]["child_birthdays"] = [1770]  # not a date
    for record in (first, second):
        record["study"]["name"] = STUDY_NAME
    rulings = (
        "response_uuid,action,arbiter,created_at,comment\n"
        f"{uid('compat-1')},accepted,jrivera,2024-01-02T20:05:31.123Z,Confirmed by email\n"
        f"{uid('compat-2')},accepted,mchen,2024-01-04T00:00:00Z,\n"
    )
    videos = (
        f"videoStream_{STUDY}_0-video-consent_{uid('compat-1')}_1704126430000_1.mp4\n"
        f"videoStream_{STUDY}_1-survey_{uid('compat-1')}_1704126431250_2.mp4\n"
    )
    return {
        "responses.json": dump([first, second]),
        "consent_rulings.csv": rulings.encode(),
        "videos.txt": videos.encode(),
    }


def _header(data: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_compatibility_with_the_platforms_downloads() -> None:
    """Every file a researcher's scripts read, as the platform writes it: names, headers
    (SPEC §4.3's column lists), timestamps, one-cell lists, the last exit frame, ages at
    the response's date, mapping conditions as a list, jsPsych frames, dictionaries."""
    study = settings(study_name=STUDY_NAME)
    result = process_drop(_compat_drop(), study)
    files = result.files
    assert result.drop.errors == [] and len(result.published) == 2
    assert sorted(files) == sorted(n.replace("Physics-Study", SLUG) for n in DEFAULT_NAMES)

    # overview: the platform's own columns, then the flattened ones in text order
    flattened = [
        "response__conditions.0.conditionNum",
        "response__conditions.0.frameName",
        "response__conditions.0.parameterSet.Q1",
        "response__eligibility.0",
        "response__eligibility.1",
        "response__researcher_session_status",
        "response__researcher_star",
        *(f"response__sequence.{i}" for i in range(4)),
    ]
    header = _header(files[f"{SLUG}_all-responses.csv"])
    assert header == OVERVIEW_HEADER + flattened
    rows = {r["response__uuid"]: r for r in csv_rows(files[f"{SLUG}_all-responses.csv"])}
    row = rows[uid("compat-1")]
    assert row["response__date_created"] == "2024-01-01 16:27:08.395000+00:00"
    assert rows[uid("compat-2")]["response__date_created"] == "2024-01-03 08:00:00+00:00"
    assert row["consent__time"] == "2024-01-02 20:05"
    assert row["consent__comment"] == "Confirmed by email"
    assert row["response__eligibility"] == ""  # a list: its items in .0, .1
    assert (row["response__eligibility.0"], row["response__eligibility.1"]) == (
        "Ineligible_TooYoung",
        "Ineligible_CriteriaExpression",
    )
    # the last exit frame: private/no, not the first frame's public/yes
    assert (row["response__video_privacy"], row["response__databrary"]) == ("private", "no")
    assert row["response__withdrawn"] == "False"
    assert row["response__parent_feedback"] == "Lovely, thanks"
    assert row["response__birthdate_difference"] == "2"
    assert row["child__age_rounded"] == "1770"  # 1782 days
    assert row["response__conditions.0.frameName"] == "1-survey"
    assert row["response__conditions.0.conditionNum"] == "2"
    statuses = ("payment_status", "session_status", "star")
    assert [row[f"response__researcher_{k}"] for k in statuses] == ["To pay", "Follow up", "True"]
    assert row["response__sequence.3"] == "3-exit-survey"
    assert [r["column"] for r in csv_rows(files[f"{SLUG}_all-responses-dict.csv"])] == [
        *OVERVIEW_HEADER,
        "response__researcher_session_status",
        "response__researcher_star",
    ]
    nested = {n["response"]["uuid"]: n for n in json.loads(files[f"{SLUG}_all-responses.json"])}
    assert nested[uid("compat-1")]["response"]["date_created"] == row["response__date_created"]
    assert nested[uid("compat-1")]["response"]["eligibility"] == [
        "Ineligible_TooYoung",
        "Ineligible_CriteriaExpression",
    ]
    assert nested[uid("compat-1")]["consent"]["time"] == "2024-01-02 20:05"
    assert nested[uid("compat-2")]["consent"]["comment"] is None  # empty: null
    assert (
        "exp_data" in nested[uid("compat-1")]
        and "exp_data" not in nested[uid("compat-1")]["response"]
    )

    # demographics: one cell per list, ages at the response's date, free text published
    assert _header(files[f"{SLUG}_all-demographic-snapshots.csv"]) == DEMOGRAPHICS_HEADER
    demo = {
        r["response__uuid"]: r for r in csv_rows(files[f"{SLUG}_all-demographic-snapshots.csv"])
    }
    snap = demo[uid("compat-1")]
    assert snap["demographic__date_created"] == "2023-06-01 09:30:00.500000+00:00"
    assert snap["demographic__child_rounded_ages"] == "[1770, 360]"
    assert snap["demographic__us_race_ethnicity_identification"] == "['white', 'hisp']"
    assert snap["demographic__additional_comments"] == "Comment from family-1"
    assert snap["demographic__lookit_referrer"] == "Referred by family-1"
    assert demo[uid("compat-2")]["demographic__child_rounded_ages"] == "[None]"
    demo_dict = {
        r["column"]: r["description"]
        for r in csv_rows(files[f"{SLUG}_all-demographic-snapshots-dict.csv"])
    }
    assert list(demo_dict) == DEMOGRAPHICS_HEADER
    assert "MUST BE REDACTED" in demo_dict["response__uuid"]
    assert "MUST BE REDACTED" in demo_dict["demographic__additional_comments"]
    assert "MUST BE REDACTED" in demo_dict["demographic__lookit_referrer"]

    # children, frame data, frames dictionary
    assert _header(files[f"{SLUG}_all-children.csv"]) == CHILDREN_HEADER
    entries = zip_entries(files[f"{SLUG}_framedata_per_session.zip"])
    assert sorted(entries) == sorted(
        f"{SLUG}_{uid(n)}_frames.csv" for n in ("compat-1", "compat-2")
    )
    frames = csv_rows(entries[f"{SLUG}_{uid('compat-2')}_frames.csv"])
    assert _header(entries[f"{SLUG}_{uid('compat-2')}_frames.csv"]) == FRAME_HEADER
    assert [(r["key"], r["value"]) for r in frames if r["frame_id"] == "1-survey"] == [
        ("", "['jsPsych', 2]")
    ]
    assert _header(files[f"{SLUG}_all-frames-dict.csv"]) == FRAMES_DICT_HEADER
    assert _header(gzip.decompress(files[f"{SLUG}_all-frames.csv.gz"])) == FRAME_HEADER

    # videos: the platform's datetime text; consent by the frame's type
    videos = csv_rows(files[f"{SLUG}_videos.csv"])
    assert [(v["frame_id"], v["timestamp"], v["is_consent"]) for v in videos] == [
        ("0-video-consent", "2024-01-01 16:27:10+00:00", "True"),
        ("1-survey", "2024-01-01 16:27:11.250000+00:00", "False"),
    ]

    # Psych-DS: its layout is tested with the dataset (tests/session/test_psychds.py)
    with zipfile.ZipFile(io.BytesIO(files[f"{SLUG}--psychds.zip"])) as archive:
        description = json.loads(archive.read("dataset_description.json"))
    assert description["name"] == STUDY_NAME
