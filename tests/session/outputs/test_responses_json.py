"""The nested responses JSON (:mod:`pipeline.session.outputs.responses_json`)."""

from __future__ import annotations

import json

from pipeline.session.outputs.build import build_outputs
from pipeline.session.process import SessionResult
from tests.session.factory import make_record, settings, uid
from tests.session.outputs.helpers import accept_all, csv_rows, zip_entries


def test_json_nests_the_same_records() -> None:
    records = [make_record("r1"), make_record("r2", created="2024-03-01T08:00:00Z")]
    files = build_outputs(records, settings(), accept_all("r1", "r2"))
    nested = json.loads(files["Physics-Study_all-responses.json"])
    flat = csv_rows(files["Physics-Study_all-responses.csv"])
    assert [n["response"]["uuid"] for n in nested] == [r["response__uuid"] for r in flat]
    assert [n["response"]["uuid"] for n in nested] == [uid("r2"), uid("r1")]  # by time
    first = nested[0]
    assert list(first) == ["response", "consent", "study", "participant", "child"]
    assert first["child"]["hashed_id"] == flat[0]["child__hashed_id"]
    assert first["response"]["sequence"] == ["0-video-consent", "1-survey", "2-exit-survey"]
    exit_frame = first["response"]["exp_data"]["2-exit-survey"]
    assert "birthDate" not in exit_frame and exit_frame["withdrawal"] is False
    assert "global_id" not in first["child"] and "name" not in first["child"]


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
