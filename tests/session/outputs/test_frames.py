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
    # eventTimings.N.k → event_number "N" (text), key k
    assert values[("0-video-consent", "1", "streamTime")] == 19.5
    assert values[("0-video-consent", "0", "eventType")] == "exp-video-consent:recorderReady"
    assert values[("0-video-consent", "0", "streamTime")] is None
    # frame values: nested keys flattened, no event number
    assert values[("1-survey", "", "formData.pets.1")] == "dog"
    assert values[("1-survey", "", "formData.favPie")] == "pecan"
    # global events
    assert values[("global", "0", "exitType")] == "manualInterrupt"
    assert values[("global", "0", "lastPageSeen")] == 1
    # frameType and the exit survey's birthDate are not written
    assert not [t for t in triples if t[2] in ("frameType", "birthDate")]
    assert values[("2-exit-survey", "", "withdrawal")] is False


def test_frame_rows_in_the_platforms_order() -> None:
    """Global events first, then the frames in the record's order, each frame's keys in
    the record's order (events where ``eventTimings`` stands), not sorted."""
    record = make_record(
        "order",
        sequence=["0-b", "1-a"],
        global_event_timings=[{"eventType": "exitEarly", "lastPageSeen": 1}],
        exp_data={
            "1-a": {"frameType": "DEFAULT", "zeta": 1, "alpha": 2},
            "0-b": {
                "eventTimings": [{"timestamp": "t0", "eventType": "e0"}, {"eventType": "e1"}],
                "frameType": "DEFAULT",
                "videoList": ["v0", "v1"],
                "generatedProperties": None,  # empty: not written
                "birthDate": "2020-01-01",  # never written, in any frame
            },
        },
    )
    rows = [(fid, num, key, value) for _, _, fid, num, key, value in frame_rows(record, "H")]
    assert rows == [
        ("global", "0", "eventType", "exitEarly"),
        ("global", "0", "lastPageSeen", 1),
        ("1-a", "", "zeta", 1),
        ("1-a", "", "alpha", 2),
        ("0-b", "0", "timestamp", "t0"),
        ("0-b", "0", "eventType", "e0"),
        ("0-b", "1", "eventType", "e1"),
        ("0-b", "", "videoList.0", "v0"),
        ("0-b", "", "videoList.1", "v1"),
    ]


def test_per_session_csv_sample_lines() -> None:
    """``QUOTE_NONNUMERIC``: texts quoted (the event number too), numbers and booleans
    bare, null as a quoted empty text, ``\r\n`` line ends."""
    files = build_outputs([make_record("r1")], settings(), accept_all("r1"))
    entries = zip_entries(files["Physics-Study_framedata_per_session.zip"])
    lines = entries[f"Physics-Study_{uid('r1')}_frames.csv"].decode().split("\r\n")
    head = f'"{uid("r1")}","{settings().hashed(uid("child-1"))}",'
    assert lines[0] == ('"response_uuid","child_hashed_id","frame_id","event_number","key","value"')
    assert lines[3:8] == [
        head + '"0-video-consent","0","timestamp","2024-03-01T18:00:05.000Z"',
        head + '"0-video-consent","0","streamTime",""',
        head + '"0-video-consent","1","eventType","exp-video-consent:nextFrame"',
        head + '"0-video-consent","1","timestamp","2024-03-01T18:00:25.000Z"',
        head + '"0-video-consent","1","streamTime",19.5',
    ]
    assert head + '"2-exit-survey","","withdrawal",False' in lines
    assert lines[-1] == ""


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
    assert data.splitlines()[0] == ",".join(f'"{c}"' for c in FRAMES_DICT_HEADER)
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
    assert ("*-survey", "formData.pets.0") in keys and ("*-survey", "formData.pets.1") in keys
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
    header = '"response_uuid","child_hashed_id","frame_id","event_number","key","value"\r\n'
    bodies = {uid: body.decode() for uid, body in entries.items()}
    assert all(b.startswith(header) for b in bodies.values())
    # one header, then every per-session file's rows, in response id order
    order = [
        r["response__uuid"] for r in csv_rows(synth_result.files["Physics-Study_all-responses.csv"])
    ]
    assert text == header + "".join(
        bodies[f"Physics-Study_{u}_frames.csv"][len(header) :] for u in order
    )
    frame = pd.read_csv(io.BytesIO(data), compression="gzip", dtype=str, keep_default_na=False)
    assert set(frame["response_uuid"]) == {r["response"]["uuid"] for r in synth_result.published}


def test_frames_dictionary_excerpt_of_the_synthetic_study(synth_result: SessionResult) -> None:
    """Every list index its own row (``videoList.0``, ``videoList.1``, ``videosShown.0``…):
    35 rows under the header for the synthetic study, as the platform lists them."""
    data = synth_result.files["Physics-Study_all-frames-dict.csv"]
    rows = [(r["possible_frame_id"], r["possible_key"]) for r in csv_rows(data)]
    assert len(rows) == 35
    at = rows.index(("*-pref-phys-videos", ""))
    assert rows[at : at + 10] == [
        ("*-pref-phys-videos", ""),
        ("*-pref-phys-videos", "videoId"),
        ("*-pref-phys-videos", "videoList.0"),
        ("*-pref-phys-videos", "videoList.1"),
        ("*-pref-phys-videos", "videosShown.0"),
        ("*-pref-phys-videos", "videosShown.1"),
        ("*-video-config", ""),
        ("*-video-consent", ""),
        ("*-video-consent", "videoId"),
        ("*-video-consent", "videoList.0"),
    ]
    assert rows[-5:] == [
        ("any (event data)", "eventType"),
        ("any (event data)", "exitType"),
        ("any (event data)", "lastPageSeen"),
        ("any (event data)", "streamTime"),
        ("any (event data)", "timestamp"),
    ]
    lines = data.decode().split("\r\n")
    assert lines[at + 3] == (  # under the header line
        '"","","*-pref-phys-videos","","videoList.0",'
        '"Names of all video files recorded during this frame"'
    )
