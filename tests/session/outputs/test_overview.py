"""The response overview and its dictionary (:mod:`pipeline.session.outputs.overview`):
the platform's columns, order, quoting and values, spelled out as facts."""

from __future__ import annotations

import dataclasses
import json

from pipeline.session.outputs.build import build_outputs
from pipeline.session.outputs.settings import IDENTIFYING
from tests.session.factory import STUDY, make_record, settings, uid
from tests.session.outputs.helpers import (
    PLATFORM_OWN_COLUMNS,
    PLATFORM_PEOPLE_COLUMNS,
    accept_all,
    csv_header,
    csv_rows,
)

#: The platform's own columns with the default download options, in its order.
PLACED = PLATFORM_OWN_COLUMNS


def _two_responses() -> list[dict]:
    """Response 1353 (mapping conditions, two eligibility codes, researcher fields set)
    created before response 99."""
    first = make_record(
        "r1",
        id=1353,
        eligibility=["Ineligible_TooYoung", "Ineligible_CriteriaExpression"],
        researcher_payment_status="to_pay",
        researcher_session_status="follow_up",
        researcher_star=True,
        conditions={"1-survey": {"conditionNum": 2, "parameterSet": {"Q1": "color"}}},
    )
    second = make_record("r2", id=99, created="2024-03-02T10:00:00Z", child="child-2")
    return [first, second]


def test_overview_header_rows_and_quoting() -> None:
    """Own columns first (list columns empty), then every flattened column in text order:
    conditions, eligibility, session status, star, sequence; rows by response id; every
    text quoted, numbers and booleans bare."""
    files = build_outputs(_two_responses(), settings(), accept_all("r1", "r2"))
    data = files["Physics-Study_all-responses.csv"]
    assert csv_header(data) == [
        *PLACED,
        "response__conditions.0.conditionNum",
        "response__conditions.0.frameName",
        "response__conditions.0.parameterSet.Q1",
        "response__eligibility.0",
        "response__eligibility.1",
        "response__researcher_session_status",
        "response__researcher_star",
        "response__sequence.0",
        "response__sequence.1",
        "response__sequence.2",
    ]
    lines = data.decode().split("\r\n")
    assert lines[0].startswith('"response__id","response__uuid",') and lines[-1] == ""
    assert [r["response__id"] for r in csv_rows(data)] == ["99", "1353"]  # by id, not time
    hashed = settings().hashed
    assert lines[2] == ",".join(
        [
            f'"1353","{uid("r1")}","2024-03-01 18:00:00+00:00",True,False,"","",0,"private","no"',
            f'False,"accepted","jrivera","2024-03-03 00:00","note","{STUDY}"',
            f'"{hashed(uid("family-1"))}","{hashed(uid("child-1"))}","360","f"',
            '"40 or more weeks","en","","","","To pay",2,"1-survey","color"',
            '"Ineligible_TooYoung","Ineligible_CriteriaExpression","Follow up",True',
            '"0-video-consent","1-survey","2-exit-survey"',
        ]
    )
    second = csv_rows(data)[0]
    assert second["response__eligibility.0"] == "Eligible"
    assert second["response__eligibility.1"] == ""  # a column this row lacks
    assert (second["response__researcher_payment_status"], second["response__researcher_star"]) == (
        "",
        "False",
    )


def test_sequence_columns_in_text_order() -> None:
    """``response__sequence.10`` comes before ``response__sequence.2``, as the platform
    sorts them."""
    long = make_record("long", sequence=[f"{i}-frame" for i in range(12)])
    files = build_outputs([long], settings(), accept_all("long"))
    header = csv_header(files["Physics-Study_all-responses.csv"])
    sequence = [c for c in header if c.startswith("response__sequence.")]
    assert sequence[:4] == [
        "response__sequence.0",
        "response__sequence.1",
        "response__sequence.10",
        "response__sequence.11",
    ]
    assert csv_rows(files["Physics-Study_all-responses.csv"])[0]["response__sequence.11"] == (
        "11-frame"
    )
    assert "response__completed_consent_frame" not in header
    assert not set(header) & set(IDENTIFYING)


def test_empty_comment_and_statuses_the_platform_cannot_hold() -> None:
    """An empty consent comment is null (a quoted empty cell); an unknown status code is
    written as given, a missing one as ''."""
    record = make_record("r1", researcher_payment_status="odd", researcher_session_status=None)
    rulings = {uid("r1"): dataclasses.replace(accept_all("r1")[uid("r1")], comment="")}
    files = build_outputs([record], settings(), rulings)
    row = csv_rows(files["Physics-Study_all-responses.csv"])[0]
    assert row["consent__comment"] == ""
    assert (
        row["response__researcher_payment_status"],
        row["response__researcher_session_status"],
    ) == (
        "odd",
        "",
    )
    assert json.loads(files["Physics-Study_all-responses.json"])[0]["consent"]["comment"] is None


def test_identifying_columns_when_selected() -> None:
    """Selected identifying columns take the platform's places among its own columns."""
    chosen = settings(identifying=list(IDENTIFYING))
    files = build_outputs([make_record()], chosen, accept_all("r1"))
    data = files["Physics-Study_all-responses-identifiable.csv"]
    header = csv_header(data)
    assert header[15:30] == ["study__uuid", *PLATFORM_PEOPLE_COLUMNS]
    assert header[30:33] == [
        "response__sequence",
        "response__conditions",
        "response__researcher_payment_status",
    ]
    row = csv_rows(data)[0]
    assert row["child__birthday"] == "2023-03-01"
    assert row["child__name"] == "Name child-1"
    assert row["child__global_id"] == uid("child-1")
    assert row["participant__nickname"] == "Nick family-1"
    assert row["child__age_in_days"] == "366"
    assert f',"{uid("child-1")}",' in data.decode() and ",366," in data.decode()  # a number
    described = {
        r["column"]: r["description"]
        for r in csv_rows(files["Physics-Study_all-responses-dict.csv"])
    }
    for column in (*IDENTIFYING, "consent__comment", "response__parent_feedback"):
        assert "MUST BE REDACTED" in described[column], column
    assert "MUST BE REDACTED" not in described["child__age_rounded"]
    assert "exact age" in described["child__age_rounded"]  # repeated rounded ages
    nested = json.loads(files["Physics-Study_all-responses-identifiable.json"])[0]
    assert nested["child"]["name"] == "Name child-1"
    assert nested["child"]["age_in_days"] == 366 and nested["child"]["birthday"] == "2023-03-01"
    assert list(nested["participant"]) == ["global_id", "hashed_id", "nickname"]
    # the demographic files never carry global IDs
    demo = files["Physics-Study_all-demographic-snapshots.csv"].decode()
    assert uid("family-1") not in demo and uid("demo-family-1") not in demo


def test_dictionary_lists_the_platforms_columns() -> None:
    """One row per response column of the download, flattened columns described by
    their own column, the session status and star last."""
    files = build_outputs(_two_responses(), settings(), accept_all("r1", "r2"))
    rows = csv_rows(files["Physics-Study_all-responses-dict.csv"])
    assert [r["column"] for r in rows] == [
        *PLACED,
        "response__researcher_session_status",
        "response__researcher_star",
    ]
    described = {r["column"]: r["description"] for r in rows}
    assert "response__eligibility.0" in described["response__eligibility"]
    assert "response__sequence.N" in described["response__sequence"]
    assert "To pay" in described["response__researcher_payment_status"]
