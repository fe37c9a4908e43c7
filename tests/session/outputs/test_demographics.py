"""The demographic snapshots (:mod:`pipeline.session.outputs.demographics`)."""

from __future__ import annotations

import json

from pipeline.session.outputs.build import build_outputs
from tests.session.factory import make_record, settings, uid
from tests.session.outputs.helpers import accept_all, csv_rows


def test_demographic_snapshots_one_row_per_response() -> None:
    records = [make_record("a", id=12), make_record("b", id=7, child="kid2")]
    records[1]["demographic"] = None
    files = build_outputs(records, settings(), accept_all("a", "b"))
    data = files["Physics-Study_all-demographic-snapshots.csv"]
    rows = csv_rows(data)
    assert [r["response__uuid"] for r in rows] == [uid("b"), uid("a")]  # by response id
    hashed = settings().hashed
    assert data.decode().split("\r\n")[2] == ",".join(
        [
            f'"{uid("a")}","{hashed(uid("family-1"))}","{hashed(uid("demo-family-1"))}"',
            '"2024-01-01 12:00:00+00:00","1","[360]","2","[\'white\', \'asian\']","30-34","f"',
            '"grad","100000","Comment from family-1","US","MA","urban","Referred by family-1"',
        ]
    )
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
        for r in csv_rows(files["Physics-Study_all-demographic-snapshots-dict.csv"])
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
    files = build_outputs([record], settings(), accept_all("r1"))
    row = csv_rows(files["Physics-Study_all-demographic-snapshots.csv"])[0]
    # 1782 and 372 days on 2024-01-01 (on 2023-06-01 they were 1568 and 158: [1560, 160])
    assert row["demographic__child_rounded_ages"] == "[1770, 360, None]"
