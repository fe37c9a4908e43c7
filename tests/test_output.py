"""Published values (SPEC §3.6): formats applied when a day is rendered from its store."""

from __future__ import annotations

import pyarrow as pa

from pipeline.config import PanelRules
from pipeline.panel.output import (
    day_table,
    format_number,
    format_text,
    format_zip,
    publication_order,
)
from pipeline.panel.qualtrics import END, RECORDED, START, TOKEN, WAVE


def test_zip_longer_than_five_digits_is_withheld_without_a_table():
    out = format_zip(pa.array(["98105", "981051234", " 02139 ", None, ""]), None)
    assert out.to_pylist() == ["98105", None, "02139", None, None]


def test_zip_population_table_masks_sparse_areas():
    populations = {"98105": 45_000, "99999": 12, "02139": 99, "10001": 100}
    out = format_zip(pa.array(["98105", "99999", "02139", "10001", "12345"]), populations)
    # under 100 people: NA; exactly 100 stays; a ZIP absent from the table stays
    assert out.to_pylist() == ["98105", None, None, "10001", "12345"]


def test_numbers_and_whole_numbers():
    assert format_number(pa.array(["3", "3.0", "2.5", "x", None, "-0"])).to_pylist() == [
        "3", "3", "2.5", None, None, "0",
    ]  # fmt: skip
    whole = format_number(pa.array(["3", "3.0", "2.5"]), whole_only=True)
    assert whole.to_pylist() == ["3", "3", None]


def test_text_is_squashed_and_trimmed():
    assert format_text(pa.array(["  a   b ", "x\n\ty", "   ", "ok"])).to_pylist() == [
        "a b", "x y", None, "ok",
    ]  # fmt: skip


def _stored(**questions: list[str | None]) -> pa.Table:
    n = len(next(iter(questions.values())))
    base = 1_622_563_200  # 2021-06-01 16:00:00 UTC = 09:00 PDT
    return pa.table({
        TOKEN: [f"t{i}" for i in range(n)], "ResponseId": [f"R{i}" for i in range(n)],
        START: pa.array([base + 60 * (n - i) for i in range(n)], pa.int64()),
        RECORDED: pa.array([base + 3600] * n, pa.int64()), END: pa.array([base + 7200] * n),
        WAVE: pa.array([2] * n, pa.int64()), **questions,
    })  # fmt: skip


def test_day_table_formats_stored_values_at_render():
    stored = _stored(A2=["2.0", "1.5"], A3=["99999", "98105"], B2=["  4,5 ", None])
    rules = PanelRules()
    plain, _ = day_table(stored, ["A2", "A3", "B2", "C9"], None, rules, "America/Los_Angeles")
    assert plain.column_names == [
        "StartDatetime", "EndDatetime", "A2", "A3", "B2", "C9", "wave", "UserLanguage",
        "weight", "_token",
    ]  # fmt: skip
    rows = plain.to_pylist()
    assert [r["_token"] for r in rows] == ["t1", "t0"]  # sorted by start
    assert rows[0]["StartDatetime"] == "2021-06-01 09:01:00"
    assert rows[0]["EndDatetime"] == "2021-06-01 11:00:00"
    assert [r["A2"] for r in rows] == [None, "2"]  # A2: whole numbers only
    assert [r["B2"] for r in rows] == [None, "4,5"]
    assert [r["C9"] for r in rows] == [None, None]  # another wave's question
    assert [r["weight"] for r in rows] == [None, None]
    # the same store under a ZIP table and other numeric items: the values follow the rules
    masked = day_table(
        stored, ["A2", "A3", "B2"], pa.table({"cid": ["t0"], "weight": ["1.5"]}),
        PanelRules(numeric_items=[]),
        "America/New_York", {"99999": 5},
    )[0].to_pylist()  # fmt: skip
    assert [r["A3"] for r in masked] == ["98105", None]
    assert [r["A2"] for r in masked] == ["1.5", "2.0"]  # text now: kept as received
    assert masked[0]["StartDatetime"] == "2021-06-01 12:01:00"
    assert [r["weight"] for r in masked] == [None, "1.5"]


def test_zip_codes_with_more_than_five_digits_anywhere_are_masked():
    """Only values over five bytes can hold six digits; every one of them is counted."""
    values = ["12345", "1234 5", "98-105-1", "ab123456", "９８１０５１", "12 34 56", None]
    out = format_zip(pa.array(values), None).to_pylist()
    assert out == ["12345", "1234 5", None, None, "９８１０５１", None, None]


def test_publication_order_is_by_start_recorded_and_response_id_of_kept_rows():
    rows = pa.table({
        START: [30, 10, 10, 20], RECORDED: [1, 2, 2, 1], "ResponseId": ["R_d", "R_c", "R_b", "R_a"],
    })  # fmt: skip
    assert publication_order(rows).tolist() == [2, 1, 3, 0]
    keep = pa.array([True, None, True, False])  # a null is not kept, as Table.filter drops it
    assert publication_order(rows, keep).tolist() == [2, 0]
    in_order = rows.take(pa.array([2, 1, 3, 0]))
    assert publication_order(in_order) is None  # every row, as it is: nothing to take
