"""Published files of session studies (SPEC §4.3): names, columns, formats, privacy."""

from __future__ import annotations

import csv
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
from tests.session.factory import dump, make_record, rulings_csv, settings, uid

DEFAULT_NAMES = [
    "Physics-Study_all-children-dict.csv",
    "Physics-Study_all-children.csv",
    "Physics-Study_all-demographic-snapshots-dict.csv",
    "Physics-Study_all-demographic-snapshots.csv",
    "Physics-Study_all-demographic-snapshots.json",
    "Physics-Study_all-frames-dict.csv",
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
    assert study_slug("Ünïcode") == "-n-code"
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


def test_frames_dictionary_has_placeholders() -> None:
    files = build_outputs([make_record()], settings(), _accept_all("r1"))
    rows = _csv(files["Physics-Study_all-frames-dict.csv"])
    assert [r["column"] for r in rows[:6]] == [
        "response_uuid",
        "child_hashed_id",
        "frame_id",
        "event_number",
        "key",
        "value",
    ]
    frame_rows_ = {
        r["possible_value"]: r["description"]
        for r in rows
        if r["column"] == "frame_id" and r["possible_value"]
    }
    assert set(frame_rows_) == {"0-video-consent", "1-survey", "2-exit-survey"}
    assert all(d.startswith("RESEARCHER: INSERT") for d in frame_rows_.values())
    keys = {
        (r["frame_id"], r["possible_value"]): r["description"] for r in rows if r["column"] == "key"
    }
    assert "RESEARCHER: INSERT" in keys[("1-survey", "formData.favPie")]
    assert ("1-survey", "formData.pets.N") in keys  # array items generalized
    assert "RESEARCHER" not in keys[("0-video-consent", "timestamp")]
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
    assert "response__conditions.4-pref-phys-videos.showStay" in header
    assert header.index("response__sequence.9") < header.index("response__sequence.10")
    assert header.index("response__sequence.11") < header.index("response__conditions.0.frameName")
    assert header.index("response__conditions.0.frameName") < header.index("consent__ruling")
    assert header.index("consent__time") < header.index("study__uuid")
    assert header.index("study__uuid") < header.index("participant__hashed_id")
    assert header.index("participant__hashed_id") < header.index("child__hashed_id")
    assert not set(header) & set(IDENTIFYING)

    rows = {r["response__uuid"]: r for r in _csv(files["Physics-Study_all-responses.csv"])}
    row = rows[uid("r1")]
    assert row["response__conditions.0.frameName"] == "1-survey"
    assert row["response__conditions.0.parameterSet.Q1"] == "color"
    assert row["response__sequence.2"] == "2-exit-survey"
    assert row["response__sequence.3"] == ""
    assert row["consent__ruling"] == "accepted" and row["consent__arbiter"] == "jrivera"
    assert row["participant__hashed_id"] == settings().hashed(uid("family-1"))
    assert row["child__hashed_id"] == settings().hashed(uid("child-1"))
    assert row["child__age_rounded"] == "360"  # 366 days
    assert row["response__completed"] == "True" and row["response__withdrawn"] == "False"
    assert row["response__birthdate_difference"] == "0"
    assert row["response__video_privacy"] == "private"
    assert rows[uid("long")]["response__sequence.11"] == "11-frame"

    described = [r["column"] for r in _csv(files["Physics-Study_all-responses-dict.csv"])]
    assert described == header


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
    row = _csv(files["Physics-Study_all-responses-identifiable.csv"])[0]
    assert row["child__birthday"] == "2023-03-01"
    assert row["child__name"] == "Name child-1"
    assert row["child__global_id"] == uid("child-1")
    assert row["participant__nickname"] == "Nick family-1"
    assert row["child__age_in_days"] == "366"
    assert row["consent__comment"] == "note"
    described = {
        r["column"]: r["description"] for r in _csv(files["Physics-Study_all-responses-dict.csv"])
    }
    for column in IDENTIFYING:
        assert "MUST BE REDACTED" in described[column], column
    assert "MUST BE REDACTED" not in described["child__age_rounded"]
    nested = json.loads(files["Physics-Study_all-responses-identifiable.json"])[0]
    assert nested["child"]["name"] == "Name child-1"
    child_row = _csv(files["Physics-Study_all-children-identifiable.csv"])[0]
    assert child_row["child__additional_information"] == "Private note about child-1"
    # the demographic files never carry identifying data
    demo = files["Physics-Study_all-demographic-snapshots.csv"].decode()
    assert uid("family-1") not in demo and "Comment from" not in demo


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
        make_record("b", child="kid1", family="fam1", created="2024-03-05T10:00:00Z"),
        make_record("c", child="kid2", family="fam1"),
        make_record("d", child="kid3", family="fam2"),
    ]
    records[1]["child"]["language_list"] = "en es"  # the newer profile wins
    files = build_outputs(records, settings(), _accept_all("a", "b", "c", "d"))
    rows = _csv(files["Physics-Study_all-children.csv"])
    assert len(rows) == 3
    hashed = {settings().hashed(uid(k)): k for k in ("kid1", "kid2", "kid3")}
    assert [r["child__hashed_id"] for r in rows] == sorted(hashed)
    by_kid = {hashed[r["child__hashed_id"]]: r for r in rows}
    assert by_kid["kid1"]["child__language_list"] == "en es"
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
    assert first["demographic__us_race_ethnicity_identification.0"] == "white"
    assert first["demographic__us_race_ethnicity_identification.1"] == "asian"
    assert first["demographic__child_rounded_ages.0"] == "310"  # 306 days on 2024-01-01
    assert by_uuid[uid("b")]["demographic__hashed_id"] == ""
    for gone in ("additional_comments", "lookit_referrer", "child_birthdays", "uuid"):
        assert f"demographic__{gone}" not in first
    nested = json.loads(files["Physics-Study_all-demographic-snapshots.json"])
    assert [n["response"]["uuid"] for n in nested] == [r["response__uuid"] for r in rows]
    snapshot = {n["response"]["uuid"]: n["demographic"] for n in nested}[uid("a")]
    assert snapshot["us_race_ethnicity_identification"] == ["white", "asian"]
    described = [
        r["column"] for r in _csv(files["Physics-Study_all-demographic-snapshots-dict.csv"])
    ]
    assert described == list(first)


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
    out = []
    for name, data in files.items():
        out.append((name, data))
        if name.endswith(".zip"):
            out.extend((f"{name}!{inner}", body) for inner, body in _zip_entries(data).items())
    return out


def test_no_identifying_data_or_free_text_in_default_outputs(
    synth_result: SessionResult, synth_records: list[dict], synth_files: dict[str, bytes]
) -> None:
    secrets: set[str] = set()
    for record in synth_records:
        secrets.update((record["participant"]["global_id"], record["child"]["global_id"]))
        secrets.add(record["demographic"]["uuid"])
        for value in (
            record["child"]["name"],
            record["child"]["birthday"],
            record["participant"]["nickname"],
            record["child"]["additional_information"],
            record["demographic"]["additional_comments"],
            record["demographic"]["lookit_referrer"],
            *record["demographic"]["child_birthdays"],
        ):
            if value:
                secrets.add(value)
    for name, data in synth_files.items():
        if "consent" in name:
            secrets.update(r.comment for r in parse_rulings(data, name) if r.comment)
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
    dropped = {
        v.video_file
        for v in synth_result.drop.videos
        if v.response_uuid in withdrawn and not v.is_consent
    }
    assert dropped and not dropped & listed and listed < all_listed


def test_outputs_are_deterministic(synth_files: dict[str, bytes], synth_result) -> None:
    again = process_drop(dict(reversed(list(synth_files.items()))), settings())
    assert again.files == synth_result.files
    records = list(synth_result.published)
    random.Random(3).shuffle(records)
    rebuilt = build_outputs(
        records, settings(), synth_result.drop.rulings, synth_result.drop.videos
    )
    assert rebuilt == synth_result.files
    with zipfile.ZipFile(io.BytesIO(rebuilt["Physics-Study_framedata_per_session.zip"])) as archive:
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
