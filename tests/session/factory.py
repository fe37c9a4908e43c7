"""Small builders of raw session records for the tests."""

from __future__ import annotations

import copy
import json
import uuid
import zlib
from typing import Any

from pipeline.session.outputs import StudySettings

STUDY = "0f620873-2847-4eeb-9854-df7898934c17"
SALT = "88b9d333-852d-42a2-8352-3027354ee136"


def uid(name: str) -> str:
    """A stable UUID for a readable name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def settings(**changes: Any) -> StudySettings:
    """Study settings of the test study."""
    values: dict[str, Any] = {"study_uuid": STUDY, "study_name": "Physics Study", "salt": SALT}
    values.update(changes)
    return StudySettings(**values)


def make_record(
    name: str = "r1",
    *,
    created: str = "2024-03-01T18:00:00.000Z",
    child: str = "child-1",
    family: str = "family-1",
    birthday: str = "2023-03-01",
    withdrawal: bool = False,
    **response: Any,
) -> dict[str, Any]:
    """A raw platform record (as in the JSON input) with one consent, one survey and one
    exit frame; ``response`` keys override the response's fields."""
    rid = uid(name)
    record = {
        "response": {
            "uuid": rid,
            "id": 100 + zlib.crc32(name.encode()) % 1000,
            "date_created": created,
            "completed": True,
            "is_preview": False,
            "completed_consent_frame": True,
            "sequence": ["0-video-consent", "1-survey", "2-exit-survey"],
            "conditions": [
                {"frameName": "1-survey", "conditionNum": 2, "parameterSet": {"Q1": "color"}}
            ],
            "exp_data": {
                "0-video-consent": {
                    "frameType": "CONSENT",
                    "videoId": f"videoStream_{STUDY}_0-video-consent_{rid}_1709316000000_12",
                    "eventTimings": [
                        {
                            "eventType": "exp-video-consent:recorderReady",
                            "timestamp": "2024-03-01T18:00:05.000Z",
                            "streamTime": None,
                        },
                        {
                            "eventType": "exp-video-consent:nextFrame",
                            "timestamp": "2024-03-01T18:00:25.000Z",
                            "streamTime": 19.5,
                        },
                    ],
                },
                "1-survey": {
                    "frameType": "DEFAULT",
                    "formData": {"favPie": "pecan", "pets": ["cat", "dog"]},
                    "eventTimings": [
                        {"eventType": "nextFrame", "timestamp": "2024-03-01T18:01:00.000Z"}
                    ],
                },
                "2-exit-survey": {
                    "frameType": "EXIT",
                    "birthDate": f"{birthday}T04:00:00.000Z",
                    "withdrawal": withdrawal,
                    "useOfMedia": "private",
                    "databraryShare": "no",
                    "feedback": "",
                    "eventTimings": [
                        {"eventType": "nextFrame", "timestamp": "2024-03-01T18:02:00.000Z"}
                    ],
                },
            },
            "global_event_timings": [],
            "eligibility": ["Eligible"],
            "parent_feedback": None,
            "researcher_payment_status": "",
            "researcher_session_status": "",
            "researcher_star": False,
        },
        "study": {"uuid": STUDY, "name": "Physics Study"},
        "participant": {"global_id": uid(family), "nickname": f"Nick {family}"},
        "child": {
            "global_id": uid(child),
            "name": f"Name {child}",
            "birthday": birthday,
            "gender": "f",
            "age_at_birth": "40 or more weeks",
            "language_list": "en",
            "condition_list": "",
            "additional_information": f"Private note about {child}",
        },
        "demographic": {
            "uuid": uid(f"demo-{family}"),
            "date_created": "2024-01-01T12:00:00Z",
            "number_of_children": "1",
            "child_birthdays": [birthday],
            "number_of_guardians": "2",
            "us_race_ethnicity_identification": ["white", "asian"],
            "parent_age": "30-34",
            "parent_gender": "f",
            "education_level": "grad",
            "annual_income": "100000",
            "additional_comments": f"Comment from {family}",
            "country": "US",
            "state": "MA",
            "density": "urban",
            "lookit_referrer": f"Referred by {family}",
        },
    }
    record["response"].update(copy.deepcopy(response))
    return record


def dump(records: list[dict[str, Any]]) -> bytes:
    """Records as the bytes of a raw responses file."""
    return json.dumps(records, indent=2).encode("utf-8")


def rulings_csv(*rows: tuple[str, str, str]) -> bytes:
    """A consent rulings file from ``(response name, action, created_at)`` rows."""
    lines = ["response_uuid,action,arbiter,created_at,comment"]
    lines += [f"{uid(name)},{action},jrivera,{created},note" for name, action, created in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")
