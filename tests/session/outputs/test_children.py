"""The children file (:mod:`pipeline.session.outputs.children`)."""

from __future__ import annotations

from pipeline.session.outputs.build import build_outputs
from tests.session.factory import make_record, settings, uid
from tests.session.outputs.helpers import accept_all, csv_rows


def test_children_one_row_per_child() -> None:
    records = [
        make_record("a", child="kid1", family="fam1"),
        make_record("b", child="kid1", family="fam1", created="2024-09-05T10:00:00Z"),
        make_record("c", child="kid2", family="fam1"),
        make_record("d", child="kid3", family="fam2"),
    ]
    records[1]["child"]["language_list"] = "en es"  # the newer profile wins
    files = build_outputs(records, settings(), accept_all("a", "b", "c", "d"))
    data = files["Physics-Study_all-children.csv"]
    assert data.decode().splitlines()[0] == (
        "participant__hashed_id,child__hashed_id,child__age_rounded,child__gender,"
        "child__age_at_birth,child__language_list,child__condition_list"
    )
    rows = csv_rows(data)
    assert len(rows) == 3
    hashed = {settings().hashed(uid(k)): k for k in ("kid1", "kid2", "kid3")}
    assert [r["child__hashed_id"] for r in rows] == sorted(hashed)
    by_kid = {hashed[r["child__hashed_id"]]: r for r in rows}
    assert by_kid["kid1"]["child__language_list"] == "en es"
    assert by_kid["kid1"]["child__age_rounded"] == "360"  # at the first response (366 days)
    assert by_kid["kid3"]["participant__hashed_id"] == settings().hashed(uid("fam2"))
    described = [r["column"] for r in csv_rows(files["Physics-Study_all-children-dict.csv"])]
    assert described == list(rows[0])
