"""Publication rules (SPEC §4.2): consent, previews, late rulings, withdrawn video, days."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from pipeline.session.process import load_drop, process_drop
from pipeline.session.records import Ruling, parse_rulings, parse_video_name
from pipeline.session.rules import (
    exclusion_reason,
    exit_value,
    for_day,
    is_consent_video,
    is_withdrawn,
    listed_videos,
    select_published,
)
from tests.session.factory import STUDY, dump, make_record, rulings_csv, settings, uid


def _ruling(name: str, action: str, when: str = "2024-03-02T10:00:00Z") -> Ruling:
    data = rulings_csv((name, action, when))
    return parse_rulings(data, "c.csv")[0]


@pytest.mark.parametrize(
    ("created", "zone", "day"),
    [
        ("2024-03-02T06:30:00Z", "America/Los_Angeles", date(2024, 3, 1)),  # 22:30 PST
        ("2024-03-02T08:30:00Z", "America/Los_Angeles", date(2024, 3, 2)),  # 00:30 PST
        ("2024-07-02T06:30:00Z", "America/Los_Angeles", date(2024, 7, 1)),  # 23:30 PDT
        ("2024-07-02T07:30:00Z", "America/Los_Angeles", date(2024, 7, 2)),  # 00:30 PDT
        ("2024-03-02T06:30:00Z", "UTC", date(2024, 3, 2)),
        ("2024-03-01T23:30:00-05:00", "Europe/Berlin", date(2024, 3, 2)),
    ],
)
def test_for_day_in_the_study_time_zone(created: str, zone: str, day: date) -> None:
    assert for_day(make_record(created=created), zone) == day


def _with_exit(frame_id: str, frame: dict) -> dict:
    record = make_record()
    exp = record["response"]["exp_data"]
    del exp["2-exit-survey"]
    exp[frame_id] = frame
    return record


@pytest.mark.parametrize(
    ("frame_id", "frame", "withdrawn"),
    [
        ("2-exit-survey", {"frameType": "EXIT", "withdrawal": True}, True),
        ("2-exit-survey", {"frameType": "EXIT", "withdrawal": False}, False),
        ("2-exit-survey", {"frameType": "EXIT"}, False),
        ("2-exit-survey", {"frameType": "EXIT", "withdrawal": "false"}, False),
        ("2-exit-survey", {"frameType": "EXIT", "withdrawal": "yes"}, True),
        ("2-exit-survey", {"frameType": "EXIT", "withdrawal": 1}, True),
        ("9-my-exit", {"frameType": "exit", "withdrawal": True}, True),
        # a study frame asking something else called withdrawal is not the exit frame
        ("1-quiz", {"frameType": "DEFAULT", "withdrawal": True}, False),
        # exports without frameType (as in the platform's docs): the exit survey by name
        ("5-exit-survey", {"withdrawal": True}, True),
        ("5-quiz", {"withdrawal": True}, False),
    ],
)
def test_withdrawal(frame_id: str, frame: dict, withdrawn: bool) -> None:
    assert is_withdrawn(_with_exit(frame_id, frame)) is withdrawn


def _two_exits(first: dict, second: dict, reverse_exp_data: bool = False) -> dict:
    """A record whose participant answered the exit survey twice (first, then second)."""
    record = make_record()
    exp = record["response"]["exp_data"]
    exp["2-exit-survey"].update(first)
    exp["3-exit-survey"] = {**exp["2-exit-survey"], **second}
    record["response"]["sequence"].append("3-exit-survey")
    if reverse_exp_data:  # exp_data's key order is not the order the frames were seen
        record["response"]["exp_data"] = dict(reversed(list(exp.items())))
    return record


@pytest.mark.parametrize("reverse_exp_data", [False, True])
def test_the_last_exit_frame_decides(reverse_exp_data: bool) -> None:
    """With exit frames public/yes and then private/no, the parent's final answer holds
    (the platform's rule): never the more permissive first one."""
    record = _two_exits(
        {"useOfMedia": "public", "databraryShare": "yes", "withdrawal": True, "feedback": "a"},
        {"useOfMedia": "private", "databraryShare": "no", "withdrawal": False, "feedback": "b"},
        reverse_exp_data,
    )
    assert exit_value(record, "useOfMedia") == "private"
    assert exit_value(record, "databraryShare") == "no"
    assert exit_value(record, "feedback") == "b"
    assert is_withdrawn(record) is False
    # and the other way round: a withdrawal in the last frame counts
    record = _two_exits({"withdrawal": False}, {"withdrawal": True}, reverse_exp_data)
    assert is_withdrawn(record) is True
    # a key missing from the last exit frame is missing, not taken from an earlier one
    record = _two_exits({"useOfMedia": "public"}, {}, reverse_exp_data)
    del record["response"]["exp_data"]["3-exit-survey"]["useOfMedia"]
    assert exit_value(record, "useOfMedia") is None


def test_exit_value_without_exit_frame() -> None:
    record = make_record()
    del record["response"]["exp_data"]["2-exit-survey"]
    assert exit_value(record, "useOfMedia") is None and is_withdrawn(record) is False


def test_exclusion_reasons() -> None:
    accepted = _ruling("r1", "accepted")
    assert exclusion_reason(make_record(), accepted) is None
    assert exclusion_reason(make_record(is_preview=True), accepted) == "preview"
    assert exclusion_reason(make_record(is_preview=True), accepted, include_preview=True) is None
    assert exclusion_reason(make_record(completed_consent_frame=False), accepted) == (
        "no_consent_frame"
    )
    assert exclusion_reason(make_record(), None) == "no_ruling"
    assert exclusion_reason(make_record(), _ruling("r1", "pending")) == "pending"
    assert exclusion_reason(make_record(), _ruling("r1", "rejected")) == "rejected"
    # the consent frame is required even when a ruling says accepted
    assert (
        exclusion_reason(make_record(completed_consent_frame=None), accepted) == "no_consent_frame"
    )


def test_select_published_counts_reasons() -> None:
    records = [make_record(f"r{i}") for i in range(5)]
    records[3]["response"]["is_preview"] = True
    rulings = {
        uid("r0"): _ruling("r0", "accepted"),
        uid("r1"): _ruling("r1", "rejected"),
        uid("r3"): _ruling("r3", "accepted"),
    }
    selection = select_published(records, rulings)
    assert [r["response"]["uuid"] for r in selection.published] == [uid("r0")]
    assert selection.excluded == {"rejected": 1, "no_ruling": 2, "preview": 1}
    assert selection.reasons[uid("r3")] == "preview"
    with_preview = select_published(records, rulings, include_preview=True)
    assert {r["response"]["uuid"] for r in with_preview.published} == {uid("r0"), uid("r3")}


def _overview_uuids(files: dict[str, bytes]) -> set[str]:
    text = files["Physics-Study_all-responses.csv"].decode()
    return {row["response__uuid"] for row in csv.DictReader(io.StringIO(text))}


def test_a_late_ruling_flips_a_response_to_published() -> None:
    drop = {
        "responses_2024_03_01.json": dump(
            [make_record("a", created="2024-03-01T18:00:00Z"), make_record("b")]
        ),
        "consent_rulings_2024_03_02.csv": rulings_csv(
            ("a", "pending", "2024-03-02T17:00:00Z"), ("b", "accepted", "2024-03-02T17:05:00Z")
        ),
    }
    night2 = process_drop(drop, settings())
    assert _overview_uuids(night2.files) == {uid("b")}
    assert night2.excluded == {"pending": 1}

    drop["consent_rulings_2024_03_04.csv"] = rulings_csv(("a", "accepted", "2024-03-04T16:00:00Z"))
    night4 = process_drop(drop, settings())
    assert _overview_uuids(night4.files) == {uid("a"), uid("b")}
    # The response still belongs to the day it was created on: that day is re-made.
    assert night4.days[uid("a")] == date(2024, 3, 1)
    assert night4.published_days == {date(2024, 3, 1)}


def test_a_newer_rejection_unpublishes() -> None:
    drop = {
        "responses_2024_03_01.json": dump([make_record("a")]),
        "consent_rulings_2024_03_02.csv": rulings_csv(("a", "accepted", "2024-03-02T17:00:00Z")),
        "consent_rulings_2024_03_05.csv": rulings_csv(("a", "rejected", "2024-03-05T17:00:00Z")),
    }
    result = process_drop(drop, settings())
    assert result.published == [] and result.excluded == {"rejected": 1}
    assert _overview_uuids(result.files) == set()


def _video(response: str, frame: str, ms: int, study: str = STUDY) -> str:
    return f"videoStream_{study}_{frame}_{uid(response)}_{ms}_1.mp4"


def test_withdrawal_lists_consent_videos_only() -> None:
    keep = make_record("keep")
    gone = make_record("gone", withdrawal=True)
    # a frame named like a consent frame whose frameType is not CONSENT
    gone["response"]["exp_data"]["5-consent-reminder"] = {"frameType": "DEFAULT"}
    names = [
        _video("keep", "0-video-consent", 1000),
        _video("keep", "3-test-trials", 2000),
        _video("gone", "0-video-consent", 1000),
        _video("gone", "0-video-consent", 1500),
        _video("gone", "3-test-trials", 2000),
        _video("gone", "4-test_trials-2", 3000),
        _video("gone", "5-consent-reminder", 3500),
        "consent-" + _video("gone", "6-jspsych-consent", 4000),  # jsPsych-style consent video
        _video("unpublished", "0-video-consent", 1000),
        _video("keep", "0-video-consent", 1000, study=uid("other study")),
    ]
    videos = [parse_video_name(n) for n in names]
    listed = listed_videos(videos, [keep, gone], STUDY)
    by_response = {(v.video.response_uuid, v.video.frame_id, v.is_consent) for v in listed}
    assert by_response == {
        (uid("keep"), "0-video-consent", True),
        (uid("keep"), "3-test-trials", False),
        (uid("gone"), "0-video-consent", True),
        (uid("gone"), "6-jspsych-consent", True),
    }
    assert len(listed) == 5  # both consent videos of the withdrawn response

    drop = {
        "responses.json": dump([keep, gone]),
        "consent.csv": rulings_csv(
            ("keep", "accepted", "2024-03-03T00:00:00Z"),
            ("gone", "accepted", "2024-03-03T00:00:00Z"),
        ),
        "videos.txt": ("\n".join(names) + "\n").encode(),
    }
    files = process_drop(drop, settings()).files
    rows = list(csv.DictReader(io.StringIO(files["Physics-Study_videos.csv"].decode())))
    assert len(rows) == 5
    assert all(r["is_consent"] == "True" for r in rows if r["response_uuid"] == uid("gone"))
    assert {r["frame_id"] for r in rows if r["response_uuid"] == uid("keep")} == {
        "0-video-consent",
        "3-test-trials",
    }
    assert {r["timestamp"] for r in rows if r["frame_id"] == "6-jspsych-consent"} == {
        "1970-01-01 00:00:04+00:00"
    }
    assert {r["timestamp"] for r in rows if r["frame_id"] == "3-test-trials"} == {
        "1970-01-01 00:00:02+00:00"
    }


def test_consent_video_by_frame_type_or_prefix() -> None:
    record = make_record("r")
    record["response"]["exp_data"]["1-survey"]["frameType"] = "consent"  # any case
    assert is_consent_video(parse_video_name(_video("r", "0-video-consent", 1)), record)
    assert is_consent_video(parse_video_name(_video("r", "1-survey", 1)), record)
    assert not is_consent_video(parse_video_name(_video("r", "2-exit-survey", 1)), record)
    # a frame that is not in exp_data, whatever its name, is not a consent frame
    assert not is_consent_video(parse_video_name(_video("r", "9-video-consent", 1)), record)
    assert is_consent_video(parse_video_name("consent-" + _video("r", "9-x", 1)), record)


def test_a_malformed_file_is_set_aside_and_the_rest_goes_through() -> None:
    drop = {
        "responses_1.json": dump([make_record("a")]),
        "responses_2.json": b'[{"response": ',
        "consent_rulings_1.csv": rulings_csv(("a", "accepted", "2024-03-03T00:00:00Z")),
        "consent_rulings_2.csv": b"response_uuid,action,created_at\nx,accepted,2024-03-03\n",
        "videos_1.txt": b"not a video\n",
        "README.md": b"hello",
    }
    loaded = load_drop(drop, STUDY)
    assert sorted(e.file for e in loaded.errors) == [
        "consent_rulings_2.csv",
        "responses_2.json",
        "videos_1.txt",
    ]
    assert loaded.ignored == ["README.md"]
    result = process_drop(drop, settings())
    assert [r["response"]["uuid"] for r in result.published] == [uid("a")]
