"""The Great Expectations suites (pipeline/checks.py), run in-process."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

import pyarrow as pa
import pytest

from pipeline import checks
from pipeline.panel.output import published_columns
from pipeline.staging import write_frame

QUESTIONS = ["A1", "A2"]
HEADER = published_columns(QUESTIONS)


def day(tokens, starts, weights=None) -> pa.Table:
    n = len(tokens)
    return pa.table({
        "_token": pa.array(tokens, pa.string()),
        "StartDatetime": pa.array(starts, pa.string()),
        "weight": pa.array(weights if weights is not None else [None] * n, pa.string()),
    })  # fmt: skip


def run(days, headers=None):
    return checks.check_days(days, QUESTIONS, headers or {d: HEADER for d in days})


def test_good_days_pass():
    out = run({
        "2021-06-01": day(["a", "b"], ["2021-06-01 00:00:00", "2021-06-01 23:59:59"], ["1", "2.5"]),
        "2021-06-02": day(["c"], ["2021-06-02 12:00:00"], ["0.1"]),
    })  # fmt: skip
    assert out.passed and out.failures == [] and out.evaluated == 3


def test_a_token_on_two_days_fails_both_days():
    out = run({
        "2021-06-01": day(["a", "b"], ["2021-06-01 09:00:00", "2021-06-01 10:00:00"]),
        "2021-06-02": day(["a"], ["2021-06-02 09:00:00"]),
        "2021-06-03": day(["z"], ["2021-06-03 09:00:00"]),
    })  # fmt: skip
    assert not out.passed
    assert any("expect_column_values_to_be_unique" in f for f in out.failures)
    assert out.failed_days == ["2021-06-01", "2021-06-02"]


def _staged(tmp_path, tokens_by_day: dict[str, list[str]]) -> dict[str, str]:
    """Check files of days (one row per token, started at noon of its day)."""
    return {
        d: write_frame(day(tokens, [f"{d} 12:00:00"] * len(tokens)), tmp_path / f"{d}.arrow")
        for d, tokens in tokens_by_day.items()
    }


def test_day_files_are_checked_a_share_at_a_time_and_tokens_across_shares(tmp_path):
    """40 days make two shares of 31 and 9 days: a respondent in the first and the last
    day's file fails those two days; each token once passes."""
    days = [(date(2021, 6, 1) + timedelta(days=i)).isoformat() for i in range(40)]
    good = {d: [f"t{i}-{k}" for k in range(3)] for i, d in enumerate(days)}
    headers = {d: HEADER for d in days}
    out = checks.check_day_files(_staged(tmp_path / "good", good), QUESTIONS, headers)
    assert out.passed and out.evaluated == 120
    bad = {**good, days[-1]: [*good[days[-1]], "t0-1"]}
    out = checks.check_day_files(_staged(tmp_path / "bad", bad), QUESTIONS, headers)
    assert not out.passed and out.failed_days == [days[0], days[-1]]
    assert any("across shares of days" in f for f in out.failures)


def test_a_row_outside_its_day_fails_that_day():
    out = run({
        "2021-06-01": day(["a"], ["2021-06-01 09:00:00"]),
        "2021-06-02": day(["b"], ["2021-06-03 00:00:00"]),
    })  # fmt: skip
    assert not out.passed and out.failed_days == ["2021-06-02"]
    assert any("expect_column_pair_values_to_be_equal" in f for f in out.failures)


@pytest.mark.parametrize("start", [None, "not a time"])
def test_a_missing_or_unparseable_start_fails(start):
    out = run({"2021-06-01": day(["a", "b"], ["2021-06-01 09:00:00", start])})
    assert not out.passed and out.failed_days == ["2021-06-01"]


def test_day_check_frame_weights_missing_parsed_or_unparseable():
    import numpy as np

    frame, day_of_row = checks.day_check_frame({
        "2021-06-01": day(["a", "b", "c"], ["2021-06-01 01:00:00"] * 3, [None, "1.5", "heavy"]),
        "2021-06-02": day(["d"], ["2021-06-02 01:00:00"]),  # a study without weights
    })  # fmt: skip
    assert np.isnan(frame["_weight"][0]) and np.isnan(frame["_weight"][3])
    assert frame["_weight"][1:3].tolist() == [1.5, -1.0]
    assert day_of_row.tolist() == ["2021-06-01"] * 3 + ["2021-06-02"]


@pytest.mark.parametrize("weight", ["0", "-1", "heavy"])
def test_a_weight_that_is_not_positive_fails(weight):
    out = run({"2021-06-02": day(["a", "b"], ["2021-06-02 01:00:00"] * 2, ["1", weight])})
    assert not out.passed and out.failed_days == ["2021-06-02"]
    assert any("expect_column_values_to_be_between" in f for f in out.failures)


def test_a_missing_token_fails():
    out = run({"2021-06-01": day(["a", None], ["2021-06-01 09:00:00"] * 2)})
    assert not out.passed
    assert any("expect_column_values_to_not_be_null" in f for f in out.failures)


def test_a_wrong_header_fails_the_days_written_with_it():
    days = {"2021-06-01": day(["a"], ["2021-06-01 09:00:00"]),
            "2021-06-02": day(["b"], ["2021-06-02 09:00:00"])}  # fmt: skip
    headers = {"2021-06-01": HEADER, "2021-06-02": [*HEADER[:2], "token", *HEADER[2:]]}
    out = run(days, headers)
    assert not out.passed and out.failed_days == ["2021-06-02"]
    assert any("expect_table_columns_to_match_ordered_list" in f for f in out.failures)


def normalized(**overrides) -> pa.Table:
    cols = {
        "StartDate": ["2021-06-01 09:00:00"] * 4, "RecordedDate": ["2021-06-01 09:10:00"] * 4,
        "ResponseId": ["R1", "R2", "R3", "R4"], "_start": [1, 2, 3, 4],
        "_recorded": [5, 6, 7, 8], "_wave": [1, 1, None, 2],
    }  # fmt: skip
    cols.update(overrides)
    return pa.table({k: v for k, v in cols.items() if v is not None})


def test_normalized_batch_passes():
    out = checks.check_normalized(normalized())
    assert out.passed and out.evaluated == 4


@pytest.mark.parametrize(
    ("change", "expectation"),
    [
        ({"ResponseId": None}, "expect_column_to_exist"),
        ({"_start": [1, None, 3, 4]}, "expect_column_values_to_not_be_null"),
        ({"_wave": [None, None, None, 2]}, "expect_column_values_to_not_be_null"),
    ],
)
def test_normalized_batch_failures(change, expectation):
    out = checks.check_normalized(normalized(**change))
    assert not out.passed and any(expectation in f for f in out.failures)


def test_no_rendered_day_needs_no_great_expectations():
    """A night that rendered no day (nothing new) passes the day check without importing
    Great Expectations (seconds of a night with nothing new)."""
    code = (
        "import sys\n"
        "from pipeline import checks\n"
        "out = checks.check_day_files({}, ['A1'], {})\n"
        "assert out.passed and out.failures == []\n"
        "assert 'great_expectations' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
