"""The video list (:mod:`pipeline.session.outputs.videos`)."""

from __future__ import annotations

from pipeline.session.process import SessionResult
from pipeline.session.rules import is_consent_video
from tests.session.outputs.helpers import csv_rows


def test_withdrawn_responses_list_only_consent_video(synth_result: SessionResult) -> None:
    withdrawn = {
        r["response__uuid"]
        for r in csv_rows(synth_result.files["Physics-Study_all-responses.csv"])
        if r["response__withdrawn"] == "True"
    }
    assert withdrawn, "the synthetic drop has withdrawn responses"
    rows = csv_rows(synth_result.files["Physics-Study_videos.csv"])
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
