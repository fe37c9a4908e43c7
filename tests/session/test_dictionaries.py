"""Data dictionaries (SPEC §4.3): the platform's layouts and the redaction notes."""

from __future__ import annotations

import csv
import io

import pytest

from pipeline.session.dictionaries import (
    DEMOGRAPHIC_DESCRIPTIONS,
    describe,
    dictionary_csv,
    frame_name,
    frames_dictionary,
    key_pattern,
)

MUST = "MUST BE REDACTED"


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.mark.parametrize(
    "column",
    [
        "participant__global_id",
        "participant__nickname",
        "child__global_id",
        "child__name",
        "child__birthday",
        "child__age_in_days",
        "child__additional_information",
        "consent__comment",
        "response__parent_feedback",
        "demographic__additional_comments",
        "demographic__lookit_referrer",
    ],
)
def test_identifying_and_free_text_columns_must_be_redacted(column: str) -> None:
    assert MUST in describe(column)


@pytest.mark.parametrize(
    "column", ["child__hashed_id", "participant__hashed_id", "response__uuid", "child__gender"]
)
def test_publishable_columns_say_nothing_about_redaction(column: str) -> None:
    assert MUST not in describe(column)


def test_response_uuid_next_to_videos_and_repeated_ages() -> None:
    assert MUST in describe("response__uuid", DEMOGRAPHIC_DESCRIPTIONS)
    assert "videos are also published" in describe("response__uuid", DEMOGRAPHIC_DESCRIPTIONS)
    for column in ("child__age_rounded", "demographic__child_rounded_ages"):
        assert "exact age" in describe(column) and MUST not in describe(column)


def test_flattened_columns_have_descriptions() -> None:
    assert "position" in describe("response__sequence.11")
    assert "randomizer" in describe("response__conditions.3.frameName").lower()
    assert describe("response__conditions.0.parameterSet.showStay").startswith("RESEARCHER:")
    assert describe("something__new").startswith("RESEARCHER: INSERT")


def test_dictionary_csv_has_one_row_per_column_in_order() -> None:
    rows = _rows(dictionary_csv(["response__id", "response__uuid"], DEMOGRAPHIC_DESCRIPTIONS))
    assert [r["column"] for r in rows] == ["response__id", "response__uuid"]
    assert MUST in rows[1]["description"]


def test_frame_names_and_key_patterns() -> None:
    """The platform's frame names: ``*-`` and the ID after its first ``-``."""
    assert frame_name("4-pref-phys-videos") == "*-pref-phys-videos"
    assert frame_name("12-exit-survey") == "*-exit-survey"
    assert frame_name("intro-video") == "*-video"
    assert frame_name("3") == "*-"
    assert key_pattern("videoList.10") == "videoList.N"
    assert key_pattern("formData.a.0.b") == "formData.a.N.b"


def test_dictionary_csv_is_written_as_the_platform_writes_it() -> None:
    data = dictionary_csv(["response__id"])
    assert data.startswith(b'"column","description"\r\n"response__id","')


def test_frames_dictionary_layout_and_order() -> None:
    """Frame names and keys in text order (``*-config`` before ``*-survey``, ``videoList.10``
    before ``videoList.2``), every list index its own key, event keys once."""
    rows = [
        ("r", "c", "0-video-consent", "", "videoId", "v"),
        ("r", "c", "0-video-consent", "", "videoList.0", "v"),
        ("r", "c", "0-video-consent", "", "videoList.10", "v"),
        ("r", "c", "0-video-consent", "", "videoList.2", "v"),
        ("r", "c", "0-video-consent", "0", "eventType", "x"),
        ("r", "c", "0-video-consent", "0", "myEventKey", 1),
        ("r", "c", "1-survey", "", "formData.q1", "a"),
        ("r", "c", "5-survey", "", "formData.q2", "b"),  # the same frame, elsewhere
        ("r", "c", "2-config", "0", "timestamp", "t"),  # events only
        ("r", "c", "global", "0", "lastPageSeen", 3),
    ]
    data = frames_dictionary(rows, ["response_uuid", "key"])
    assert data.splitlines()[0] == (
        b'"column","description","possible_frame_id","frame_description","possible_key",'
        b'"key_description"'
    )
    out = _rows(data)
    layout = [(r["column"], r["possible_frame_id"], r["possible_key"]) for r in out]
    assert layout == [
        ("response_uuid", "", ""),
        ("key", "", ""),
        ("", "global", ""),
        ("", "*-config", ""),
        ("", "*-survey", ""),
        ("", "*-survey", "formData.q1"),
        ("", "*-survey", "formData.q2"),
        ("", "*-video-consent", ""),
        ("", "*-video-consent", "videoId"),
        ("", "*-video-consent", "videoList.0"),
        ("", "*-video-consent", "videoList.10"),
        ("", "*-video-consent", "videoList.2"),
        ("", "any (event data)", "eventType"),
        ("", "any (event data)", "lastPageSeen"),
        ("", "any (event data)", "myEventKey"),
        ("", "any (event data)", "timestamp"),
    ]
    by_key = {r["possible_key"]: r["key_description"] for r in out if r["possible_key"]}
    assert by_key["formData.q1"].startswith("RESEARCHER: INSERT DESCRIPTION OF WHAT THIS KEY")
    assert by_key["myEventKey"].startswith("RESEARCHER: INSERT DESCRIPTION OF WHAT THIS EVENT")
    assert not by_key["videoId"].startswith("RESEARCHER")
    assert by_key["videoList.10"] == by_key["videoList.0"]  # the stock description
    assert not by_key["videoList.0"].startswith("RESEARCHER")
    assert out[3]["frame_description"] == "RESEARCHER: INSERT FRAME DESCRIPTION"
    assert out[5]["frame_description"] == ""  # a key row names its frame, no description
