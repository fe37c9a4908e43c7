"""Published files of session studies (SPEC §4.3): names, columns, formats, privacy."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import zipfile

import pandas as pd
import pytest

from pipeline.session.outputs import (
    IDENTIFYING,
    StudySettings,
    build_outputs,
    flatten,
    frame_rows,
    idmap,
    output_names,
    study_slug,
)
from pipeline.session.process import SessionResult, process_drop
from pipeline.session.records import newest_rulings, parse_rulings
from pipeline.session.rules import is_consent_video
from tests.session.factory import STUDY, dump, make_record, rulings_csv, settings, uid

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


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _zip_entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _accept_all(*records: dict) -> dict:
    rows = [(r, "accepted", "2024-03-03T00:00:00Z") for r in records]
    return newest_rulings(parse_rulings(rulings_csv(*rows), "c.csv"))


# ----------------------------------------------------------------------------- names


def test_study_slug() -> None:
    assert study_slug("Physics Study") == "Physics-Study"
    assert study_slug("Baby's 1st study (v2)!") == "Baby-s-1st-study--v2--"
    assert study_slug("Ünïcode") == "Ünïcode"
    assert study_slug("Étude des bébés") == "Étude-des-bébés"
    assert study_slug("研究 ٣/4") == "研究-٣-4"  # Unicode letters and digits are kept
    assert settings(study_name="").slug == settings().study_uuid


def test_default_file_names() -> None:
    files = build_outputs([make_record()], settings(), _accept_all("r1"))
    assert sorted(files) == DEFAULT_NAMES
    assert sorted(output_names(settings()).values()) == DEFAULT_NAMES


def test_identifying_selection_marks_file_names() -> None:
    chosen = settings(identifying=["child__birthday"])
    names = sorted(build_outputs([make_record()], chosen, _accept_all("r1")))
    assert names == sorted(
        n.replace("all-responses.", "all-responses-identifiable.").replace(
            "all-children.", "all-children-identifiable."
        )
        for n in DEFAULT_NAMES
    )


def test_unknown_identifying_column_is_refused() -> None:
    with pytest.raises(ValueError, match="child__shoe_size"):
        settings(identifying=["child__shoe_size"])
    with pytest.raises(ValueError, match="salt"):
        settings(salt="secret")


# ----------------------------------------------------------------------------- flattening


def test_flatten_nested_values() -> None:
    value = {"formData": {"a": {"b": [1, {"c": None}]}, "empty": {}, "none": []}, "x": "y"}
    assert flatten(value) == [("formData.a.b.0", 1), ("formData.a.b.1.c", None), ("x", "y")]
    assert flatten([["p", "q"]], "response__sequence") == [
        ("response__sequence.0.0", "p"),
        ("response__sequence.0.1", "q"),
    ]


def test_frame_data_long_format() -> None:
    record = make_record(
        "frames",
        global_event_timings=[
            {"exitType": "manualInterrupt", "eventType": "exitEarly", "lastPageSeen": 1}
        ],
    )
    rows = frame_rows(record, "HASHED")
    assert {r[0] for r in rows} == {uid("frames")} and {r[1] for r in rows} == {"HASHED"}
    triples = [(fid, num, key) for _, _, fid, num, key, _ in rows]
    values = {(fid, num, key): v for _, _, fid, num, key, v in rows}
    # eventTimings.N.k → event_number N, key k
    assert values[("0-video-consent", 1, "streamTime")] == 19.5
    assert values[("0-video-consent", 0, "eventType")] == "exp-video-consent:recorderReady"
    assert values[("0-video-consent", 0, "streamTime")] is None
    # frame values: nested keys flattened, no event number
    assert values[("1-survey", "", "formData.pets.1")] == "dog"
    assert values[("1-survey", "", "formData.favPie")] == "pecan"
    # global events
    assert values[("global", 0, "exitType")] == "manualInterrupt"
    assert values[("global", 0, "lastPageSeen")] == 1
    # frameType and the exit survey's birthDate are not written
    assert not [t for t in triples if t[2] in ("frameType", "birthDate")]
    assert values[("2-exit-survey", "", "withdrawal")] is False
    # frames follow the sequence, then global; plain values before events in a frame
    frames = list(dict.fromkeys(t[0] for t in triples))
    assert frames == ["0-video-consent", "1-survey", "2-exit-survey", "global"]
    survey = [t for t in triples if t[0] == "1-survey"]
    assert survey[0][1] == "" and survey[-1][1] == 0


def test_frame_data_csv_in_zip() -> None:
    record = make_record()
    record["response"]["exp_data"]["1-survey"]["formData"]["story"] = 'He said "hi",\nthen left'
    files = build_outputs([record], settings(), _accept_all("r1"))
    entries = _zip_entries(files["Physics-Study_framedata_per_session.zip"])
    assert list(entries) == [f"Physics-Study_{uid('r1')}_frames.csv"]
    frame = pd.read_csv(io.BytesIO(next(iter(entries.values()))), dtype=str, keep_default_na=False)
    assert list(frame.columns) == [
        "response_uuid",
        "child_hashed_id",
        "frame_id",
        "event_number",
        "key",
        "value",
    ]
    story = frame[frame["key"] == "formData.story"]["value"].tolist()
    assert story == ['He said "hi",\nthen left']
    assert set(frame["child_hashed_id"]) == {settings().hashed(uid("child-1"))}


FRAMES_DICT_HEADER = [
    "column",
    "description",
    "possible_frame_id",
    "frame_description",
    "possible_key",
    "key_description",
]


def test_frames_dictionary_has_the_platforms_layout() -> None:
    record = make_record(
        global_event_timings=[{"eventType": "exitEarly", "exitType": "manualInterrupt"}]
    )
    record["response"]["exp_data"]["3-jspsych-trial"] = [1, 2]  # not an object
    files = build_outputs([record], settings(), _accept_all("r1"))
    data = files["Physics-Study_all-frames-dict.csv"].decode()
    assert data.splitlines()[0] == ",".join(FRAMES_DICT_HEADER)
    rows = _csv(files["Physics-Study_all-frames-dict.csv"])
    assert [r["column"] for r in rows[:6]] == [
        "response_uuid",
        "child_hashed_id",
        "frame_id",
        "event_number",
        "key",
        "value",
    ]
    assert all(r["description"] for r in rows[:6])
    assert all(r["column"] == "" for r in rows[6:])
    frames = {
        r["possible_frame_id"]: r["frame_description"]
        for r in rows
        if r["frame_description"] and not r["possible_key"]
    }
    assert set(frames) == {
        "global",
        "*-video-consent",
        "*-survey",
        "*-exit-survey",
        "*-jspsych-trial",
    }
    assert all(
        d == "RESEARCHER: INSERT FRAME DESCRIPTION" for f, d in frames.items() if f != "global"
    )
    keys = {(r["possible_frame_id"], r["possible_key"]): r["key_description"] for r in rows[6:]}
    assert "RESEARCHER: INSERT" in keys[("*-survey", "formData.favPie")]
    assert ("*-survey", "formData.pets.N") in keys  # array items generalized
    assert "RESEARCHER" not in keys[("*-exit-survey", "withdrawal")]
    assert ("*-jspsych-trial", "") in keys  # the empty key of a non-object frame
    # event keys: once each, for any frame (global events included)
    events = {k for (f, k) in keys if f == "any (event data)"}
    assert events == {"eventType", "timestamp", "streamTime", "exitType"}
    assert "RESEARCHER" not in keys[("any (event data)", "timestamp")]
    assert not any(k[1] in ("birthDate", "frameType") for k in keys)


# ----------------------------------------------------------------------------- overview


def test_overview_columns_and_values() -> None:
    long = make_record("long", sequence=[f"{i}-frame" for i in range(12)])
    seed_style = make_record("seed", conditions={"4-pref-phys-videos": {"showStay": 18}})
    records = [make_record("r1"), long, seed_style]
    files = build_outputs(records, settings(), _accept_all("r1", "long", "seed"))
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

    rows = {r["response__uuid"]: r for r in _csv(files["Physics-Study_all-responses.csv"])}
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

    described = [r["column"] for r in _csv(files["Physics-Study_all-responses-dict.csv"])]
    assert described == header


def test_mapping_conditions_become_a_list_in_frame_order() -> None:
    record = make_record(
        conditions={
            "12-later": {"conditionNum": 1},
            "4-pref-phys-videos": {"conditionNum": 3, "parameterSet": {"showStay": 18}},
            "7-odd": "B",
        }
    )
    files = build_outputs([record], settings(), _accept_all("r1"))
    row = _csv(files["Physics-Study_all-responses.csv"])[0]
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
    files = build_outputs([record], settings(), _accept_all("r1"))
    row = _csv(files["Physics-Study_all-responses.csv"])[0]
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
    files = build_outputs([record], settings(), _accept_all("r1"))
    row = _csv(files["Physics-Study_all-responses.csv"])[0]
    assert row["response__parent_feedback"] == "Sent by email"
    assert row["response__video_privacy"] == "" and row["response__withdrawn"] == "False"


def test_non_object_frames_are_rows_with_an_empty_key() -> None:
    """jsPsych-style frame data (not an object) is written, not quarantined."""
    record = make_record()
    record["response"]["exp_data"]["1-survey"] = [{"rt": 812, "birthDate": "x"}, 3]
    record["response"]["exp_data"]["3-note"] = "free"
    drop = {
        "responses.json": dump([record]),
        "consent.csv": rulings_csv(("r1", "accepted", "2024-03-03T00:00:00Z")),
    }
    result = process_drop(drop, settings())
    assert result.drop.errors == [] and len(result.published) == 1
    entries = _zip_entries(result.files["Physics-Study_framedata_per_session.zip"])
    rows = _csv(next(iter(entries.values())))
    survey = [r for r in rows if r["frame_id"] == "1-survey"]
    assert [(r["event_number"], r["key"], r["value"]) for r in survey] == [
        ("", "", "[{'rt': 812}, 3]")
    ]
    note = [r for r in rows if r["frame_id"] == "3-note"]
    assert [(r["key"], r["value"]) for r in note] == [("", "free")]


def test_birthdate_difference() -> None:
    record = make_record()
    record["response"]["exp_data"]["2-exit-survey"]["birthDate"] = "2023-03-04T04:00:00.000Z"
    files = build_outputs([record], settings(), _accept_all("r1"))
    assert _csv(files["Physics-Study_all-responses.csv"])[0]["response__birthdate_difference"] == (
        "3"
    )


def test_identifying_columns_when_selected() -> None:
    chosen = settings(identifying=list(IDENTIFYING))
    files = build_outputs([make_record()], chosen, _accept_all("r1"))
    header = next(
        csv.reader(io.StringIO(files["Physics-Study_all-responses-identifiable.csv"].decode()))
    )
    # after the platform's fixed columns, before the flattened sequence
    at = header.index("child__condition_list") + 1
    assert header[at : at + len(IDENTIFYING)] == list(IDENTIFYING)
    row = _csv(files["Physics-Study_all-responses-identifiable.csv"])[0]
    assert row["child__birthday"] == "2023-03-01"
    assert row["child__name"] == "Name child-1"
    assert row["child__global_id"] == uid("child-1")
    assert row["participant__nickname"] == "Nick family-1"
    assert row["child__age_in_days"] == "366"
    described = {
        r["column"]: r["description"] for r in _csv(files["Physics-Study_all-responses-dict.csv"])
    }
    for column in (*IDENTIFYING, "consent__comment", "response__parent_feedback"):
        assert "MUST BE REDACTED" in described[column], column
    assert "MUST BE REDACTED" not in described["child__age_rounded"]
    assert "exact age" in described["child__age_rounded"]  # repeated rounded ages
    nested = json.loads(files["Physics-Study_all-responses-identifiable.json"])[0]
    assert nested["child"]["name"] == "Name child-1"
    child_row = _csv(files["Physics-Study_all-children-identifiable.csv"])[0]
    assert child_row["child__additional_information"] == "Private note about child-1"
    assert child_row["child__name"] == "Name child-1" and child_row["child__age_in_days"] == "366"
    # the demographic files never carry global IDs
    demo = files["Physics-Study_all-demographic-snapshots.csv"].decode()
    assert uid("family-1") not in demo and uid("demo-family-1") not in demo


def test_consent_comment_is_no_longer_opt_in() -> None:
    with pytest.raises(ValueError, match="consent__comment is always published"):
        settings(identifying=["consent__comment"])


def test_json_nests_the_same_records() -> None:
    records = [make_record("r1"), make_record("r2", created="2024-03-01T08:00:00Z")]
    files = build_outputs(records, settings(), _accept_all("r1", "r2"))
    nested = json.loads(files["Physics-Study_all-responses.json"])
    flat = _csv(files["Physics-Study_all-responses.csv"])
    assert [n["response"]["uuid"] for n in nested] == [r["response__uuid"] for r in flat]
    assert [n["response"]["uuid"] for n in nested] == [uid("r2"), uid("r1")]  # by time
    first = nested[0]
    assert list(first) == ["response", "consent", "study", "participant", "child"]
    assert first["child"]["hashed_id"] == flat[0]["child__hashed_id"]
    assert first["response"]["sequence"] == ["0-video-consent", "1-survey", "2-exit-survey"]
    exit_frame = first["response"]["exp_data"]["2-exit-survey"]
    assert "birthDate" not in exit_frame and exit_frame["withdrawal"] is False
    assert "global_id" not in first["child"] and "name" not in first["child"]


def test_children_one_row_per_child() -> None:
    records = [
        make_record("a", child="kid1", family="fam1"),
        make_record("b", child="kid1", family="fam1", created="2024-09-05T10:00:00Z"),
        make_record("c", child="kid2", family="fam1"),
        make_record("d", child="kid3", family="fam2"),
    ]
    records[1]["child"]["language_list"] = "en es"  # the newer profile wins
    files = build_outputs(records, settings(), _accept_all("a", "b", "c", "d"))
    data = files["Physics-Study_all-children.csv"]
    assert data.decode().splitlines()[0] == (
        "participant__hashed_id,child__hashed_id,child__age_rounded,child__gender,"
        "child__age_at_birth,child__language_list,child__condition_list"
    )
    rows = _csv(data)
    assert len(rows) == 3
    hashed = {settings().hashed(uid(k)): k for k in ("kid1", "kid2", "kid3")}
    assert [r["child__hashed_id"] for r in rows] == sorted(hashed)
    by_kid = {hashed[r["child__hashed_id"]]: r for r in rows}
    assert by_kid["kid1"]["child__language_list"] == "en es"
    assert by_kid["kid1"]["child__age_rounded"] == "360"  # at the first response (366 days)
    assert by_kid["kid3"]["participant__hashed_id"] == settings().hashed(uid("fam2"))
    described = [r["column"] for r in _csv(files["Physics-Study_all-children-dict.csv"])]
    assert described == list(rows[0])


def test_demographic_snapshots_one_row_per_response() -> None:
    records = [make_record("a"), make_record("b", child="kid2")]
    records[1]["demographic"] = None
    files = build_outputs(records, settings(), _accept_all("a", "b"))
    rows = _csv(files["Physics-Study_all-demographic-snapshots.csv"])
    assert [r["response__uuid"] for r in rows] == sorted([uid("a"), uid("b")])  # same time
    by_uuid = {r["response__uuid"]: r for r in rows}
    first = by_uuid[uid("a")]
    assert first["demographic__hashed_id"] == settings().hashed(uid("demo-family-1"))
    assert first["demographic__us_race_ethnicity_identification"] == "['white', 'asian']"
    assert first["demographic__child_rounded_ages"] == "[360]"  # 366 days at the response
    assert first["demographic__date_created"] == "2024-01-01 12:00:00+00:00"
    assert first["demographic__additional_comments"] == "Comment from family-1"
    assert first["demographic__lookit_referrer"] == "Referred by family-1"
    assert not [c for c in first if "." in c]  # lists stay in one cell
    empty = by_uuid[uid("b")]
    assert empty["demographic__hashed_id"] == "" and empty["demographic__child_rounded_ages"] == ""
    for gone in ("child_birthdays", "uuid"):
        assert f"demographic__{gone}" not in first
    nested = json.loads(files["Physics-Study_all-demographic-snapshots.json"])
    assert [n["response"]["uuid"] for n in nested] == [r["response__uuid"] for r in rows]
    snapshot = {n["response"]["uuid"]: n["demographic"] for n in nested}[uid("a")]
    assert snapshot["us_race_ethnicity_identification"] == ["white", "asian"]
    assert snapshot["child_rounded_ages"] == [360]
    described = {
        r["column"]: r["description"]
        for r in _csv(files["Physics-Study_all-demographic-snapshots-dict.csv"])
    }
    assert list(described) == list(first)
    for column in ("demographic__additional_comments", "demographic__lookit_referrer"):
        assert "MUST BE REDACTED" in described[column], column
    assert "videos are also published" in described["response__uuid"]
    assert "exact age" in described["demographic__child_rounded_ages"]


def test_demographic_child_ages_at_the_response_date() -> None:
    """Not at the snapshot's date: a snapshot saved months before the session gives the
    children's ages on the session's day (as the platform and its dictionary say)."""
    record = make_record(created="2024-01-01T16:27:08.395Z")
    record["demographic"].update(
        date_created="2023-06-01T09:00:00Z",
        child_birthdays=["2019-02-14", "2022-12-25", "not a date"],
    )
    files = build_outputs([record], settings(), _accept_all("r1"))
    row = _csv(files["Physics-Study_all-demographic-snapshots.csv"])[0]
    # 1782 and 372 days on 2024-01-01 (on 2023-06-01 they were 1568 and 158: [1560, 160])
    assert row["demographic__child_rounded_ages"] == "[1770, 360, None]"


def test_idmap_of_children_in_both_studies() -> None:
    study_a = settings()
    study_b = settings(study_uuid=uid("study B"), study_name="B", salt=uid("salt B"))
    in_a = [
        make_record("a1", child="both1"),
        make_record("a2", child="only-a"),
        make_record("a3", child="both2"),
        make_record("a4", child="both1"),
    ]
    in_b = [
        make_record("b1", child="both2"),
        make_record("b2", child="both1"),
        make_record("b3", child="only-b"),
    ]
    rows = list(csv.reader(io.StringIO(idmap(in_a, study_a, in_b, study_b).decode())))
    assert rows[0] == ["Study_1_ID", "Study_2_ID"]
    expected = sorted([study_a.hashed(uid(k)), study_b.hashed(uid(k))] for k in ("both1", "both2"))
    assert rows[1:] == expected
    assert all(a != b for a, b in rows[1:])  # study-specific hashes


# ----------------------------------------------------------------------------- whole drop


def _all_bytes(files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """Every file's bytes, plus every ZIP entry and every gzip file's content."""
    out = []
    for name, data in files.items():
        out.append((name, data))
        if name.endswith(".zip"):
            out.extend((f"{name}!{inner}", body) for inner, body in _zip_entries(data).items())
        if name.endswith(".gz"):
            out.append((f"{name}!", gzip.decompress(data)))
    return out


def test_no_identifying_data_in_default_outputs(
    synth_result: SessionResult, synth_records: list[dict]
) -> None:
    """Global IDs, names, birthdays, the nickname and the child's additional information
    never reach a default file (the free text the platform publishes does, with a
    redaction note in the dictionaries: see the dictionary tests)."""
    secrets: set[str] = set()
    for record in synth_records:
        secrets.update((record["participant"]["global_id"], record["child"]["global_id"]))
        secrets.add(record["demographic"]["uuid"])
        for value in (
            record["child"]["name"],
            record["child"]["birthday"],
            record["participant"]["nickname"],
            record["child"]["additional_information"],
            *record["demographic"]["child_birthdays"],
        ):
            if value:
                secrets.add(value)
    secrets |= {s.upper() for s in secrets if len(s) == 36}  # UUIDs in any case
    assert len(secrets) > 100
    scanned = _all_bytes(synth_result.files)
    assert len(scanned) > len(synth_result.files)  # the zip entries are scanned too
    leaks = [
        (name, secret)
        for name, data in scanned
        for secret in secrets
        if secret.encode("utf-8") in data
    ]
    assert leaks == []


def test_the_scan_would_catch_a_leak(synth_files: dict[str, bytes]) -> None:
    ident = process_drop(synth_files, settings(identifying=["child__name"]))
    name = ident.published[0]["child"]["name"]
    assert name.encode() in ident.files["Physics-Study_all-responses-identifiable.csv"]


def test_json_and_csv_carry_the_same_responses(synth_result: SessionResult) -> None:
    files = synth_result.files
    published = {r["response"]["uuid"] for r in synth_result.published}
    assert len(published) > 40
    csv_uuids = [r["response__uuid"] for r in _csv(files["Physics-Study_all-responses.csv"])]
    json_uuids = [
        n["response"]["uuid"] for n in json.loads(files["Physics-Study_all-responses.json"])
    ]
    assert csv_uuids == json_uuids and set(csv_uuids) == published
    assert len(csv_uuids) == len(set(csv_uuids))
    demo = [r["response__uuid"] for r in _csv(files["Physics-Study_all-demographic-snapshots.csv"])]
    demo_json = json.loads(files["Physics-Study_all-demographic-snapshots.json"])
    assert demo == csv_uuids == [n["response"]["uuid"] for n in demo_json]
    entries = _zip_entries(files["Physics-Study_framedata_per_session.zip"])
    assert {n.split("_")[1] for n in entries} == published
    videos = {r["response_uuid"] for r in _csv(files["Physics-Study_videos.csv"])}
    assert videos and videos <= published
    children = _csv(files["Physics-Study_all-children.csv"])
    assert len(children) == len({r["child"]["global_id"] for r in synth_result.published})
    assert len(children) < len(published)  # some children took part more than once


def test_pandas_reads_every_csv(synth_result: SessionResult) -> None:
    for name, data in _all_bytes(synth_result.files):
        if name.endswith(".csv"):
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
            assert len(frame.columns) >= 2, name
            assert data.count(b"\r") == 0, name


def test_withdrawn_responses_list_only_consent_video(synth_result: SessionResult) -> None:
    withdrawn = {
        r["response__uuid"]
        for r in _csv(synth_result.files["Physics-Study_all-responses.csv"])
        if r["response__withdrawn"] == "True"
    }
    assert withdrawn, "the synthetic drop has withdrawn responses"
    rows = _csv(synth_result.files["Physics-Study_videos.csv"])
    assert {r["is_consent"] for r in rows if r["response_uuid"] in withdrawn} == {"True"}
    assert any(r["is_consent"] == "False" for r in rows)
    listed = {r["video_file"] for r in rows}
    all_listed = {v.video_file for v in synth_result.drop.videos}
    records = {r["response"]["uuid"]: r for r in synth_result.published}
    dropped = {
        v.video_file
        for v in synth_result.drop.videos
        if v.response_uuid in withdrawn and not is_consent_video(v, records[v.response_uuid])
    }
    assert dropped and not dropped & listed and listed < all_listed
    consent = {r["frame_id"] for r in rows if r["is_consent"] == "True"}
    assert consent == {"1-video-consent"}  # the synthetic study's CONSENT frame


def test_outputs_are_deterministic(synth_files: dict[str, bytes], synth_result) -> None:
    again = process_drop(dict(reversed(list(synth_files.items()))), settings())
    assert again.files == synth_result.files
    records = list(synth_result.published)
    random.Random(3).shuffle(records)
    rebuilt = build_outputs(
        records, settings(), synth_result.drop.rulings, synth_result.drop.videos
    )
    assert rebuilt == synth_result.files
    for name in ("Physics-Study_framedata_per_session.zip", "Physics-Study--psychds.zip"):
        with zipfile.ZipFile(io.BytesIO(rebuilt[name])) as archive:
            infos = archive.infolist()
            assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
            assert [i.filename for i in infos] == sorted(i.filename for i in infos)


def test_empty_study_gives_headers_only() -> None:
    files = build_outputs([], settings(), {})
    assert sorted(files) == DEFAULT_NAMES
    assert _csv(files["Physics-Study_all-responses.csv"]) == []
    assert files["Physics-Study_all-responses.csv"].startswith(b"response__id,response__uuid,")
    assert json.loads(files["Physics-Study_all-responses.json"]) == []
    assert _zip_entries(files["Physics-Study_framedata_per_session.zip"]) == {}
    assert gzip.decompress(files["Physics-Study_all-frames.csv.gz"]) == (
        b"response_uuid,child_hashed_id,frame_id,event_number,key,value\n"
    )
    assert "dataset_description.json" in _zip_entries(files["Physics-Study--psychds.zip"])


def test_all_frames_file_holds_every_per_session_file(synth_result: SessionResult) -> None:
    data = synth_result.files["Physics-Study_all-frames.csv.gz"]
    assert data[4:8] == b"\0\0\0\0"  # gzip mtime 0: the same rows, the same bytes
    text = gzip.decompress(data).decode()
    entries = _zip_entries(synth_result.files["Physics-Study_framedata_per_session.zip"])
    header = "response_uuid,child_hashed_id,frame_id,event_number,key,value\n"
    bodies = [body.decode() for _, body in sorted(entries.items())]
    assert all(b.startswith(header) for b in bodies)
    # one header, then every per-session file's rows
    assert sorted(text[len(header) :].splitlines()) == sorted(
        line for b in bodies for line in b[len(header) :].splitlines()
    )
    frame = pd.read_csv(io.BytesIO(data), compression="gzip", dtype=str, keep_default_na=False)
    assert set(frame["response_uuid"]) == {r["response"]["uuid"] for r in synth_result.published}


def test_duplicate_deliveries_publish_once() -> None:
    records = [make_record("a", completed=False), make_record("a")]
    drop = {
        "responses_1.json": dump(records[:1]),
        "responses_2.json": dump(records[1:]),
        "consent_rulings.csv": rulings_csv(("a", "accepted", "2024-03-03T00:00:00Z")),
    }
    rows = _csv(process_drop(drop, settings()).files["Physics-Study_all-responses.csv"])
    assert len(rows) == 1 and rows[0]["response__completed"] == "True"


def test_settings_from_the_config_block() -> None:
    from pipeline.config import SessionConfig

    block = SessionConfig(
        study_uuid=settings().study_uuid,
        study_name="Physics Study",
        hash_digits=8,
        identifying=["child__birthday"],
    )
    built = StudySettings.from_config(block, settings().salt)
    assert built == settings(hash_digits=8, identifying=("child__birthday",))
    assert built.hashed(uid("child-1")) == settings(hash_digits=8).hashed(uid("child-1"))
    assert len(built.hashed(uid("child-1"))) == 8


# ----------------------------------------------------------------------------- compatibility

OVERVIEW_HEADER = [  # the platform's overview columns (SPEC §4.3), in its order
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
]
RESEARCHER_HEADER = [
    "response__researcher_payment_status",
    "response__researcher_session_status",
    "response__researcher_star",
]
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
CHILDREN_HEADER = [
    "participant__hashed_id",
    "child__hashed_id",
    "child__age_rounded",
    "child__gender",
    "child__age_at_birth",
    "child__language_list",
    "child__condition_list",
]
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

    # overview: the platform's columns and order, then sequence, conditions, researcher fields
    sequence = [f"response__sequence.{i}" for i in range(4)]
    conditions = [
        "response__conditions.0.conditionNum",
        "response__conditions.0.frameName",
        "response__conditions.0.parameterSet.Q1",
    ]
    header = _header(files[f"{SLUG}_all-responses.csv"])
    assert header == OVERVIEW_HEADER + sequence + conditions + RESEARCHER_HEADER
    rows = {r["response__uuid"]: r for r in _csv(files[f"{SLUG}_all-responses.csv"])}
    row = rows[uid("compat-1")]
    assert row["response__date_created"] == "2024-01-01 16:27:08.395000+00:00"
    assert rows[uid("compat-2")]["response__date_created"] == "2024-01-03 08:00:00+00:00"
    assert row["consent__time"] == "2024-01-02 20:05"
    assert row["consent__comment"] == "Confirmed by email"
    assert row["response__eligibility"] == "Ineligible_TooYoung Ineligible_CriteriaExpression"
    # the last exit frame: private/no, not the first frame's public/yes
    assert (row["response__video_privacy"], row["response__databrary"]) == ("private", "no")
    assert row["response__withdrawn"] == "False"
    assert row["response__parent_feedback"] == "Lovely, thanks"
    assert row["response__birthdate_difference"] == "2"
    assert row["child__age_rounded"] == "1770"  # 1782 days
    assert row["response__conditions.0.frameName"] == "1-survey"
    assert row["response__conditions.0.conditionNum"] == "2"
    assert (row["response__researcher_payment_status"], row["response__researcher_star"]) == (
        "to_pay",
        "True",
    )
    assert row["response__sequence.3"] == "3-exit-survey"
    assert [r["column"] for r in _csv(files[f"{SLUG}_all-responses-dict.csv"])] == header
    nested = {n["response"]["uuid"]: n for n in json.loads(files[f"{SLUG}_all-responses.json"])}
    assert nested[uid("compat-1")]["response"]["date_created"] == row["response__date_created"]
    assert nested[uid("compat-1")]["response"]["eligibility"] == [
        "Ineligible_TooYoung",
        "Ineligible_CriteriaExpression",
    ]
    assert nested[uid("compat-1")]["consent"]["time"] == "2024-01-02 20:05"

    # demographics: one cell per list, ages at the response's date, free text published
    assert _header(files[f"{SLUG}_all-demographic-snapshots.csv"]) == DEMOGRAPHICS_HEADER
    demo = {r["response__uuid"]: r for r in _csv(files[f"{SLUG}_all-demographic-snapshots.csv"])}
    snap = demo[uid("compat-1")]
    assert snap["demographic__date_created"] == "2023-06-01 09:30:00.500000+00:00"
    assert snap["demographic__child_rounded_ages"] == "[1770, 360]"
    assert snap["demographic__us_race_ethnicity_identification"] == "['white', 'hisp']"
    assert snap["demographic__additional_comments"] == "Comment from family-1"
    assert snap["demographic__lookit_referrer"] == "Referred by family-1"
    assert demo[uid("compat-2")]["demographic__child_rounded_ages"] == "[None]"
    demo_dict = {
        r["column"]: r["description"]
        for r in _csv(files[f"{SLUG}_all-demographic-snapshots-dict.csv"])
    }
    assert list(demo_dict) == DEMOGRAPHICS_HEADER
    assert "MUST BE REDACTED" in demo_dict["response__uuid"]
    assert "MUST BE REDACTED" in demo_dict["demographic__additional_comments"]
    assert "MUST BE REDACTED" in demo_dict["demographic__lookit_referrer"]

    # children, frame data, frames dictionary
    assert _header(files[f"{SLUG}_all-children.csv"]) == CHILDREN_HEADER
    entries = _zip_entries(files[f"{SLUG}_framedata_per_session.zip"])
    assert sorted(entries) == sorted(
        f"{SLUG}_{uid(n)}_frames.csv" for n in ("compat-1", "compat-2")
    )
    frames = _csv(entries[f"{SLUG}_{uid('compat-2')}_frames.csv"])
    assert _header(entries[f"{SLUG}_{uid('compat-2')}_frames.csv"]) == FRAME_HEADER
    assert [(r["key"], r["value"]) for r in frames if r["frame_id"] == "1-survey"] == [
        ("", "['jsPsych', 2]")
    ]
    assert _header(files[f"{SLUG}_all-frames-dict.csv"]) == FRAMES_DICT_HEADER
    assert _header(gzip.decompress(files[f"{SLUG}_all-frames.csv.gz"])) == FRAME_HEADER

    # videos: the platform's datetime text; consent by the frame's type
    videos = _csv(files[f"{SLUG}_videos.csv"])
    assert [(v["frame_id"], v["timestamp"], v["is_consent"]) for v in videos] == [
        ("0-video-consent", "2024-01-01 16:27:10+00:00", "True"),
        ("1-survey", "2024-01-01 16:27:11.250000+00:00", "False"),
    ]

    # Psych-DS: keyword-named data files under data/, each with a sidecar
    with zipfile.ZipFile(io.BytesIO(files[f"{SLUG}--psychds.zip"])) as archive:
        names = archive.namelist()
        description = json.loads(archive.read("dataset_description.json"))
    assert description["name"] == STUDY_NAME
    assert {n for n in names if n.endswith("_data.csv")} == {
        f"data/study-{STUDY.replace('-', '')}_file-{label}_data.csv"
        for label in ("responses", "children", "demographics", "frames")
    }
