"""The children file (:mod:`pipeline.session.outputs.children`): the platform's 26
columns, one row per child in order of first appearance, spelled out as facts."""

from __future__ import annotations

from pipeline.session.outputs.build import build_outputs
from tests.session.factory import STUDY, make_record, settings, uid
from tests.session.outputs.helpers import (
    PLATFORM_OWN_COLUMNS,
    PLATFORM_PEOPLE_COLUMNS,
    accept_all,
    csv_header,
    csv_rows,
)

#: The platform's children columns with the default download options.
CHILDREN_HEADER = PLATFORM_OWN_COLUMNS


def test_children_one_row_per_child_in_order_of_first_appearance() -> None:
    """Ordered by response id, a child's row holds its first response's values (the
    list columns empty, as the platform leaves them)."""
    records = [
        make_record("a", id=30, child="kid1", family="fam1", researcher_payment_status="review"),
        make_record("b", id=10, child="kid2", family="fam1", created="2024-09-05T10:00:00Z"),
        make_record("c", id=40, child="kid1", family="fam1", created="2024-09-05T10:00:00Z"),
        make_record("d", id=20, child="kid3", family="fam2"),
    ]
    records[2]["child"]["language_list"] = "en es"  # a later response's profile: not used
    files = build_outputs(records, settings(), accept_all("a", "b", "c", "d"))
    data = files["Physics-Study_all-children.csv"]
    assert csv_header(data) == CHILDREN_HEADER and len(CHILDREN_HEADER) == 26
    rows = csv_rows(data)
    assert [r["response__id"] for r in rows] == ["10", "20", "30"]
    hashed = settings().hashed
    assert [r["child__hashed_id"] for r in rows] == [
        hashed(uid(k)) for k in ("kid2", "kid3", "kid1")
    ]
    line = data.decode().split("\r\n")[3]
    assert line == ",".join(
        [
            f'"30","{uid("a")}","2024-03-01 18:00:00+00:00",True,False,"","",0,"private","no"',
            f'False,"accepted","jrivera","2024-03-03 00:00","note","{STUDY}"',
            f'"{hashed(uid("fam1"))}","{hashed(uid("kid1"))}","360","f","40 or more weeks"',
            '"en","","","","Needs review"',
        ]
    )
    assert rows[0]["child__age_rounded"] == "540"  # at kid2's first response (554 days)
    described = [r["column"] for r in csv_rows(files["Physics-Study_all-children-dict.csv"])]
    # the platform's child and participant columns, chosen or not
    assert described == PLATFORM_PEOPLE_COLUMNS


def test_children_identifying_columns_when_selected() -> None:
    chosen = settings(identifying=["child__birthday", "child__name"])
    files = build_outputs([make_record()], chosen, accept_all("r1"))
    header = csv_header(files["Physics-Study_all-children-identifiable.csv"])
    assert header[17:21] == [
        "child__hashed_id",
        "child__name",
        "child__birthday",
        "child__age_rounded",
    ]
    row = csv_rows(files["Physics-Study_all-children-identifiable.csv"])[0]
    assert (row["child__name"], row["child__birthday"]) == ("Name child-1", "2023-03-01")
