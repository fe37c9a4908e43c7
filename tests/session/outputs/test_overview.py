"""The response overview and its dictionary (:mod:`pipeline.session.outputs.overview`)."""

from __future__ import annotations

import csv
import io
import json

from pipeline.session.outputs.build import build_outputs
from pipeline.session.outputs.settings import IDENTIFYING
from tests.session.factory import make_record, settings, uid
from tests.session.outputs.helpers import accept_all, csv_rows


def test_overview_columns_and_values() -> None:
    long = make_record("long", sequence=[f"{i}-frame" for i in range(12)])
    seed_style = make_record("seed", conditions={"4-pref-phys-videos": {"showStay": 18}})
    records = [make_record("r1"), long, seed_style]
    files = build_outputs(records, settings(), accept_all("r1", "long", "seed"))
    header = files["Physics-Study_all-responses.csv"].decode().splitlines()[0].split(",")
    assert header[:3] == ["response__id", "response__uuid", "response__date_created"]
    assert "response__sequence.0" in header and "response__conditions.0.frameName" in header
    # a mapping frame -> values is a list, as the platform publishes it
    assert not [c for c in header if "pref-phys-videos" in c]
    assert header.index("child__condition_list") < header.index("response__sequence.0")
    assert header.index("response__sequence.9") < header.index("response__sequence.10")
    assert header.index("response__sequence.11") < header.index("response__conditions.0.frameName")
    assert header[-3:] == [
        "response__researcher_payment_status",
        "response__researcher_session_status",
        "response__researcher_star",
    ]
    assert "response__completed_consent_frame" not in header
    assert not set(header) & set(IDENTIFYING)

    rows = {r["response__uuid"]: r for r in csv_rows(files["Physics-Study_all-responses.csv"])}
    row = rows[uid("r1")]
    assert row["response__conditions.0.frameName"] == "1-survey"
    assert row["response__conditions.0.parameterSet.Q1"] == "color"
    assert row["response__sequence.2"] == "2-exit-survey"
    assert row["response__sequence.3"] == ""
    assert row["consent__ruling"] == "accepted" and row["consent__arbiter"] == "jrivera"
    assert row["consent__comment"] == "note"
    assert row["participant__hashed_id"] == settings().hashed(uid("family-1"))
    assert row["child__hashed_id"] == settings().hashed(uid("child-1"))
    assert row["child__age_rounded"] == "360"  # 366 days
    assert row["response__completed"] == "True" and row["response__withdrawn"] == "False"
    assert row["response__eligibility"] == "Eligible"
    assert row["response__birthdate_difference"] == "0"
    assert row["response__video_privacy"] == "private"
    assert row["response__researcher_star"] == "False"
    assert rows[uid("long")]["response__sequence.11"] == "11-frame"
    seed = rows[uid("seed")]
    assert seed["response__conditions.0.frameName"] == "4-pref-phys-videos"
    assert seed["response__conditions.0.showStay"] == "18"

    described = [r["column"] for r in csv_rows(files["Physics-Study_all-responses-dict.csv"])]
    assert described == header


def test_identifying_columns_when_selected() -> None:
    chosen = settings(identifying=list(IDENTIFYING))
    files = build_outputs([make_record()], chosen, accept_all("r1"))
    header = next(
        csv.reader(io.StringIO(files["Physics-Study_all-responses-identifiable.csv"].decode()))
    )
    # after the platform's fixed columns, before the flattened sequence
    at = header.index("child__condition_list") + 1
    assert header[at : at + len(IDENTIFYING)] == list(IDENTIFYING)
    row = csv_rows(files["Physics-Study_all-responses-identifiable.csv"])[0]
    assert row["child__birthday"] == "2023-03-01"
    assert row["child__name"] == "Name child-1"
    assert row["child__global_id"] == uid("child-1")
    assert row["participant__nickname"] == "Nick family-1"
    assert row["child__age_in_days"] == "366"
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
    child_row = csv_rows(files["Physics-Study_all-children-identifiable.csv"])[0]
    assert child_row["child__additional_information"] == "Private note about child-1"
    assert child_row["child__name"] == "Name child-1" and child_row["child__age_in_days"] == "366"
    # the demographic files never carry global IDs
    demo = files["Physics-Study_all-demographic-snapshots.csv"].decode()
    assert uid("family-1") not in demo and uid("demo-family-1") not in demo
