"""Frame data: per-session ZIP, all-frames CSV and dictionary
(:mod:`pipeline.session.outputs.frames`)."""

from __future__ import annotations

import gzip
import io

import pandas as pd

from pipeline.session.outputs.build import build_outputs
from pipeline.session.outputs.frames import frame_rows
from pipeline.session.process import SessionResult, process_drop
from tests.session.factory import dump, make_record, rulings_csv, settings, uid
from tests.session.outputs.helpers import FRAMES_DICT_HEADER, accept_all, csv_rows, zip_entries


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
    files = build_outputs([record], settings(), accept_all("r1"))
    entries = zip_entries(files["Physics-Study_framedata_per_session.zip"])
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


def test_frames_dictionary_has_the_platforms_layout() -> None:
    record = make_record(
        global_event_timings=[{"eventType": "exitEarly", "exitType": "manualInterrupt"}]
    )
    record["response"]["exp_data"]["3-jspsych-trial"] = [1, 2]  # not an object
    files = build_outputs([record], settings(), accept_all("r1"))
    data = files["Physics-Study_all-frames-dict.csv"].decode()
    assert data.splitlines()[0] == ",".join(FRAMES_DICT_HEADER)
    rows = csv_rows(files["Physics-Study_all-frames-dict.csv"])
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
    entries = zip_entries(result.files["Physics-Study_framedata_per_session.zip"])
    rows = csv_rows(next(iter(entries.values())))
    survey = [r for r in rows if r["frame_id"] == "1-survey"]
    assert [(r["event_number"], r["key"], r["value"]) for r in survey] == [
        ("", "", "[{'rt': 812}, 3]")
    ]
    note = [r for r in rows if r["frame_id"] == "3-note"]
    assert [(r["key"], r["value"]) for r in note] == [("", "free")]


def test_all_frames_file_holds_every_per_session_file(synth_result: SessionResult) -> None:
    data = synth_result.files["Physics-Study_all-frames.csv.gz"]
    assert data[4:8] == b"\0\0\0\0"  # gzip mtime 0: the same rows, the same bytes
    text = gzip.decompress(data).decode()
    entries = zip_entries(synth_result.files["Physics-Study_framedata_per_session.zip"])
    header = "response_uuid,child_hashed_id,frame_id,event_number,key,value\n"
    bodies = [body.decode() for _, body in sorted(entries.items())]
    assert all(b.startswith(header) for b in bodies)
    # one header, then every per-session file's rows
    assert sorted(text[len(header) :].splitlines()) == sorted(
        line for b in bodies for line in b[len(header) :].splitlines()
    )
    frame = pd.read_csv(io.BytesIO(data), compression="gzip", dtype=str, keep_default_na=False)
    assert set(frame["response_uuid"]) == {r["response"]["uuid"] for r in synth_result.published}
