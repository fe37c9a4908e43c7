"""The nested responses JSON (:mod:`pipeline.session.outputs.responses_json`): the
platform's record shape, value types and layout, spelled out as facts."""

from __future__ import annotations

import json

from pipeline.session.outputs.build import build_outputs
from pipeline.session.process import SessionResult
from tests.session.factory import STUDY, make_record, settings, uid
from tests.session.outputs.helpers import accept_all, csv_rows, zip_entries


def _sample() -> dict:
    """A small response: a survey frame and an exit survey, one global event."""
    record = make_record(
        "r1",
        id=1353,
        sequence=["0-survey", "1-exit-survey"],
        conditions={"0-survey": {"conditionNum": 1}},
        global_event_timings=[{"eventType": "exitEarly", "lastPageSeen": 1}],
        researcher_payment_status="paid",
        researcher_session_status="withdrawn_closed",
        exp_data={
            "0-survey": {"frameType": "DEFAULT", "formData": {"pie": "pecan"}},
            "1-exit-survey": {
                "frameType": "EXIT",
                "birthDate": "2023-03-03T04:00:00.000Z",
                "withdrawal": True,
                "feedback": "Très bien",
            },
        },
    )
    return record


def test_json_record_as_the_platform_writes_it() -> None:
    """Sections in the platform's column order, ``exp_data`` at the top level (without the
    exit survey's birthDate), ids and rounded ages as text, tab indents, ASCII."""
    files = build_outputs([_sample()], settings(), accept_all("r1"))
    data = files["Physics-Study_all-responses.json"]
    hashed = settings().hashed
    assert json.loads(data) == [
        {
            "response": {
                "id": "1353",
                "uuid": uid("r1"),
                "date_created": "2024-03-01 18:00:00+00:00",
                "completed": True,
                "withdrawn": True,
                "eligibility": ["Eligible"],
                "parent_feedback": "Très bien",
                "birthdate_difference": 2,
                "video_privacy": None,
                "databrary": None,
                "is_preview": False,
                "sequence": ["0-survey", "1-exit-survey"],
                "conditions": [{"frameName": "0-survey", "conditionNum": 1}],
                "researcher_payment_status": "Paid",
                "researcher_session_status": "Withdrawn or closed",
                "researcher_star": False,
            },
            "consent": {
                "ruling": "accepted",
                "arbiter": "jrivera",
                "time": "2024-03-03 00:00",
                "comment": "note",
            },
            "study": {"uuid": STUDY},
            "participant": {"hashed_id": hashed(uid("family-1"))},
            "child": {
                "hashed_id": hashed(uid("child-1")),
                "age_rounded": "360",
                "gender": "f",
                "age_at_birth": "40 or more weeks",
                "language_list": "en",
                "condition_list": "",
            },
            "exp_data": {
                "0-survey": {"frameType": "DEFAULT", "formData": {"pie": "pecan"}},
                "1-exit-survey": {
                    "frameType": "EXIT",
                    "withdrawal": True,
                    "feedback": "Très bien",
                },
            },
        }
    ]
    text = data.decode("ascii")
    assert text.startswith('[\n{\n\t"response": {\n\t\t"id": "1353",\n\t\t"uuid": ')
    assert '\t\t"feedback": "Tr\\u00e8s bien"\n' in text
    assert text.endswith('\t\t\t"feedback": "Tr\\u00e8s bien"\n\t\t}\n\t}\n}\n]')
    assert list(json.loads(data)[0]) == [
        "response",
        "consent",
        "study",
        "participant",
        "child",
        "exp_data",
    ]


def test_json_records_by_response_id() -> None:
    records = [make_record("r1", id=20), make_record("r2", id=3, created="2024-03-02T08:00:00Z")]
    files = build_outputs(records, settings(), accept_all("r1", "r2"))
    data = files["Physics-Study_all-responses.json"].decode()
    assert "\n},\n{\n" in data  # records separated as the platform streams them
    nested = json.loads(data)
    flat = csv_rows(files["Physics-Study_all-responses.csv"])
    assert [n["response"]["id"] for n in nested] == ["3", "20"]
    assert [n["response"]["uuid"] for n in nested] == [r["response__uuid"] for r in flat]
    assert "global_id" not in nested[0]["child"] and "name" not in nested[0]["child"]


def test_json_and_csv_carry_the_same_responses(synth_result: SessionResult) -> None:
    files = synth_result.files
    published = {r["response"]["uuid"] for r in synth_result.published}
    assert len(published) > 40
    csv_uuids = [r["response__uuid"] for r in csv_rows(files["Physics-Study_all-responses.csv"])]
    json_uuids = [
        n["response"]["uuid"] for n in json.loads(files["Physics-Study_all-responses.json"])
    ]
    assert csv_uuids == json_uuids and set(csv_uuids) == published
    assert len(csv_uuids) == len(set(csv_uuids))
    ids = [int(r["response__id"]) for r in csv_rows(files["Physics-Study_all-responses.csv"])]
    assert ids == sorted(ids)
    demo = [
        r["response__uuid"] for r in csv_rows(files["Physics-Study_all-demographic-snapshots.csv"])
    ]
    demo_json = json.loads(files["Physics-Study_all-demographic-snapshots.json"])
    assert demo == csv_uuids == [n["response"]["uuid"] for n in demo_json]
    entries = zip_entries(files["Physics-Study_framedata_per_session.zip"])
    assert {n.split("_")[1] for n in entries} == published
    videos = {r["response_uuid"] for r in csv_rows(files["Physics-Study_videos.csv"])}
    assert videos and videos <= published
    children = csv_rows(files["Physics-Study_all-children.csv"])
    assert len(children) == len({r["child"]["global_id"] for r in synth_result.published})
    assert len(children) < len(published)  # some children took part more than once
