"""The lag policy's rules, :mod:`pipeline.panel.lag` (SPEC §3.5), on small Arrow tables."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.panel.lag import ON_TIME, cid_list_days, first_weights, improves, publishable
from pipeline.panel.qualtrics import TOKEN

W = "_finish_full_survey_weights.csv"


def _stored(tokens: list[str], on_time: list[bool]) -> pa.Table:
    """A day store's rows (two chunks, as a store concatenated from old and new rows is)."""
    half = len(tokens) // 2
    parts = [
        pa.table({TOKEN: tokens[:half], ON_TIME: on_time[:half]}),
        pa.table({TOKEN: tokens[half:], ON_TIME: on_time[half:]}),
    ]
    return pa.concat_tables(parts)


def _weights(rows: list[tuple[str, str, str]]) -> pa.Table:
    cid, weight, file = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [])
    return pa.table({"cid": pa.array(cid, pa.string()), "weight": pa.array(weight, pa.string()),
                     "file": pa.array(file, pa.string())})  # fmt: skip


# --- publishable --------------------------------------------------------------------------


def test_without_weights_the_rows_on_time_are_published():
    stored = _stored(["a", "late", "b", "late2"], [True, False, True, False])
    keep = publishable(stored, None)
    assert isinstance(keep, pa.Array) and keep.to_pylist() == [True, False, True, False]


def test_with_weights_the_weights_decide_however_late():
    stored = _stored(["ontime", "late", "ontime2", "late2"], [True, False, True, False])
    weights = pa.table({"cid": ["late", "ontime2"], "weight": ["2", "3"]})
    assert publishable(stored, weights).to_pylist() == [False, True, True, False]
    # a weights source with no weight for the day yet: nothing is published
    assert not pc.any(publishable(stored, weights.slice(0, 0))).as_py()


def test_with_the_callers_positions_a_null_is_not_published():
    stored = _stored(["a", "b", "c"], [True, True, False])
    weights = pa.table({"cid": ["c"], "weight": ["1"]})
    at = pa.array([None, None, 0], pa.int32())  # the caller's own lookup wins
    assert publishable(stored, weights, at).to_pylist() == [False, False, True]


# --- first_weights ------------------------------------------------------------------------


def test_the_file_that_sorts_first_wins():
    earlier = _weights([("b", "9", f"2021_06_01{W}"), ("x", "1", f"2021_06_01{W}")])
    later = _weights([("a", "1.5", f"2021_06_02{W}"), ("b", "2.25", f"2021_06_02{W}")])
    best = first_weights([earlier, later])
    assert best.to_pylist() == [
        {"cid": "b", "weight": "9", "file": f"2021_06_01{W}"},
        {"cid": "x", "weight": "1", "file": f"2021_06_01{W}"},
        {"cid": "a", "weight": "1.5", "file": f"2021_06_02{W}"},
    ]  # fmt: skip
    # in the other order, the other file is first
    assert first_weights([later, earlier]).column("weight").to_pylist() == ["1.5", "2.25", "1"]


def test_within_one_file_the_first_row_wins():
    one = _weights([("a", "1", "f"), ("a", "2", "f"), ("b", "3", "f")])
    assert first_weights([one]).column("weight").to_pylist() == ["1", "3"]
    assert first_weights([_weights([])]).num_rows == 0


# --- improves -----------------------------------------------------------------------------


def test_a_new_weight_replaces_a_stored_one_only_from_an_earlier_file():
    stored = _weights([("a", "1", "m" + W), ("b", "1", "m" + W), ("c", "1", "m" + W)])
    new = _weights([("a", "2", "a" + W),  # an earlier file: replaces
                    ("b", "2", "m" + W),  # the same file: stays
                    ("c", "2", "z" + W),  # a later file: stays
                    ("d", "2", "z" + W)])  # no stored weight: new  # fmt: skip
    assert improves(new, stored).to_pylist() == [True, False, False, True]
    assert improves(new, _weights([])).to_pylist() == [True] * 4


# --- cid_list_days ------------------------------------------------------------------------


def _pending(rows: list[tuple[str, str | None]]) -> pa.Table:
    return pa.table({"token": pa.array([t for t, _ in rows], pa.string()),
                     "on_time_day": pa.array([d for _, d in rows], pa.string())})  # fmt: skip


def _lists(table: pa.Table) -> list[tuple[str, str]]:
    return list(
        zip(table.column("day").to_pylist(), table.column("token").to_pylist(), strict=True)
    )


def test_a_token_goes_on_its_own_days_list_sorted_by_day_and_token():
    pending = _pending([("z", "2021-06-02"), ("b", "2021-06-01"), ("a", "2021-06-02"),
                        ("c", "2021-06-01")])  # fmt: skip
    out = cid_list_days(pending, ["2021-06-01", "2021-06-02"], "2021-06-02")
    assert out.column_names == ["day", "token"]
    assert _lists(out) == [("2021-06-01", "b"), ("2021-06-01", "c"),
                           ("2021-06-02", "a"), ("2021-06-02", "z")]  # fmt: skip


def test_a_token_whose_list_went_out_goes_on_the_newest_list_due():
    # 06-01's list went out before this token arrived (late data)
    pending = _pending([("late", "2021-06-01"), ("own", "2021-06-02")])
    out = cid_list_days(pending, ["2021-06-02", "2021-06-03"], "2021-06-03")
    assert _lists(out) == [("2021-06-02", "own"), ("2021-06-03", "late")]


def test_tokens_on_time_after_the_last_closed_day_wait():
    pending = _pending([("now", "2021-06-03"), ("soon", "2021-06-04"), ("never", None)])
    out = cid_list_days(pending, ["2021-06-03"], "2021-06-03")
    assert _lists(out) == [("2021-06-03", "now")]
    assert cid_list_days(_pending([]), ["2021-06-03"], "2021-06-03").num_rows == 0
