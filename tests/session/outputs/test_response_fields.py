"""One response's published values (:mod:`pipeline.session.outputs.response_fields`)."""

from __future__ import annotations

import json

from pipeline.session.outputs.build import build_outputs
from tests.session.factory import make_record, settings
from tests.session.outputs.helpers import accept_all, csv_rows


def test_mapping_conditions_become_a_list_in_frame_order() -> None:
    record = make_record(
        conditions={
            "12-later": {"conditionNum": 1},
            "4-pref-phys-videos": {"conditionNum": 3, "parameterSet": {"showStay": 18}},
            "7-odd": "B",
        }
    )
    files = build_outputs([record], settings(), accept_all("r1"))
    row = csv_rows(files["Physics-Study_all-responses.csv"])[0]
    assert {k: v for k, v in row.items() if k.startswith("response__conditions.")} == {
        "response__conditions.0.frameName": "4-pref-phys-videos",
        "response__conditions.0.conditionNum": "3",
        "response__conditions.0.parameterSet.showStay": "18",
        "response__conditions.1.frameName": "7-odd",
        "response__conditions.1.value": "B",
        "response__conditions.2.frameName": "12-later",
        "response__conditions.2.conditionNum": "1",
    }
    nested = json.loads(files["Physics-Study_all-responses.json"])[0]["response"]["conditions"]
    assert [c["frameName"] for c in nested] == ["4-pref-phys-videos", "7-odd", "12-later"]


def test_exit_survey_values_come_from_the_last_exit_frame() -> None:
    """Exit frames public/yes and then private/no publish the parent's final answer."""
    record = make_record(parent_feedback="ignored: the exit frames say")
    exp = record["response"]["exp_data"]
    exp["2-exit-survey"].update(
        useOfMedia="public", databraryShare="yes", withdrawal=True, feedback="first"
    )
    exp["3-exit-survey"] = {
        **exp["2-exit-survey"],
        "useOfMedia": "private",
        "databraryShare": "no",
        "withdrawal": False,
        "feedback": "second",
        "birthDate": "2023-03-04T04:00:00.000Z",
    }
    record["response"]["sequence"].append("3-exit-survey")
    files = build_outputs([record], settings(), accept_all("r1"))
    row = csv_rows(files["Physics-Study_all-responses.csv"])[0]
    assert row["response__video_privacy"] == "private"
    assert row["response__databrary"] == "no"
    assert row["response__withdrawn"] == "False"
    assert row["response__parent_feedback"] == "second"
    assert row["response__birthdate_difference"] == "3"
    nested = json.loads(files["Physics-Study_all-responses.json"])[0]["response"]
    assert (nested["video_privacy"], nested["databrary"], nested["withdrawn"]) == (
        "private",
        "no",
        False,
    )


def test_parent_feedback_without_exit_frame_comes_from_the_record() -> None:
    record = make_record(parent_feedback="Sent by email")
    del record["response"]["exp_data"]["2-exit-survey"]
    files = build_outputs([record], settings(), accept_all("r1"))
    row = csv_rows(files["Physics-Study_all-responses.csv"])[0]
    assert row["response__parent_feedback"] == "Sent by email"
    assert row["response__video_privacy"] == "" and row["response__withdrawn"] == "False"


def test_birthdate_difference() -> None:
    record = make_record()
    record["response"]["exp_data"]["2-exit-survey"]["birthDate"] = "2023-03-04T04:00:00.000Z"
    files = build_outputs([record], settings(), accept_all("r1"))
    assert csv_rows(files["Physics-Study_all-responses.csv"])[0][
        "response__birthdate_difference"
    ] == ("3")
