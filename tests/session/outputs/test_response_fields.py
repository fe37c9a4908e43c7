"""One response's published values (:mod:`pipeline.session.outputs.response_fields`)."""

from __future__ import annotations

import json

from pipeline.session.outputs.build import build_outputs
from tests.session.factory import make_record, settings
from tests.session.outputs.helpers import accept_all, csv_header, csv_rows


def test_mapping_conditions_become_a_list_in_the_records_order() -> None:
    """The platform's list: one group per randomizer frame, ``frameName`` first, in the
    order the record holds them; the columns then follow in text order."""
    record = make_record(
        conditions={
            "12-later": {"conditionNum": 1},
            "4-pref-phys-videos": {"conditionNum": 3, "parameterSet": {"showStay": 18}},
            "7-odd": "B",
        }
    )
    files = build_outputs([record], settings(), accept_all("r1"))
    data = files["Physics-Study_all-responses.csv"]
    row = csv_rows(data)[0]
    assert {k: v for k, v in row.items() if k.startswith("response__conditions.")} == {
        "response__conditions.0.frameName": "12-later",
        "response__conditions.0.conditionNum": "1",
        "response__conditions.1.frameName": "4-pref-phys-videos",
        "response__conditions.1.conditionNum": "3",
        "response__conditions.1.parameterSet.showStay": "18",
        "response__conditions.2.frameName": "7-odd",
        "response__conditions.2.value": "B",
    }
    assert [c for c in csv_header(data) if c.startswith("response__conditions.")] == [
        "response__conditions.0.conditionNum",
        "response__conditions.0.frameName",
        "response__conditions.1.conditionNum",
        "response__conditions.1.frameName",
        "response__conditions.1.parameterSet.showStay",
        "response__conditions.2.frameName",
        "response__conditions.2.value",
    ]
    nested = json.loads(files["Physics-Study_all-responses.json"])[0]["response"]["conditions"]
    assert nested[1] == {
        "frameName": "4-pref-phys-videos",
        "conditionNum": 3,
        "parameterSet": {"showStay": 18},
    }


def test_researcher_statuses_are_written_as_the_platforms_labels() -> None:
    labels = {
        ("review", "to_schedule"): ("Needs review", "To schedule"),
        ("to_pay", "scheduled"): ("To pay", "Scheduled"),
        ("do_not_pay", "session_attended"): ("Do not pay", "Session attended"),
        ("paid", "session_complete"): ("Paid", "Session complete"),
        ("", "follow_up"): ("", "Follow up"),
        ("", "communication_complete"): ("", "Communication complete"),
        ("", "withdrawn_closed"): ("", "Withdrawn or closed"),
        ("", ""): ("", ""),
    }
    for (payment, session), want in labels.items():
        record = make_record(researcher_payment_status=payment, researcher_session_status=session)
        files = build_outputs([record], settings(), accept_all("r1"))
        row = csv_rows(files["Physics-Study_all-responses.csv"])[0]
        got = (
            row["response__researcher_payment_status"],
            row["response__researcher_session_status"],
        )
        assert got == want


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


def test_birthdate_difference_reads_the_dates_first_ten_characters() -> None:
    """As the platform: ``2023-03-04`` of ``2023-03-04T23:30:00-05:00`` (not its UTC date)."""
    record = make_record()
    record["response"]["exp_data"]["2-exit-survey"]["birthDate"] = "2023-03-04T23:30:00-05:00"
    files = build_outputs([record], settings(), accept_all("r1"))
    row = csv_rows(files["Physics-Study_all-responses.csv"])[0]
    assert row["response__birthdate_difference"] == "3"
