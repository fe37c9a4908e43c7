"""Day assignment, eligibility, collisions and cut-offs (SPEC §3.2-3.5), rule by rule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from pipeline.clock import cutoff_epoch, for_dates, last_closed_day
from pipeline.config import DEFAULT_WAVES, PanelRules
from pipeline.panel import collisions as coll
from pipeline.panel.columns import is_metadata, merge_layouts
from pipeline.panel.eligibility import answered_counts, count_reasons, exclusion_reasons
from pipeline.panel.qualtrics import parse_export
from tests.exports import export_bytes, response

LA = "America/Los_Angeles"


def _frame(rows, **kw) -> pd.DataFrame:
    return parse_export(export_bytes(rows, **kw), "t.csv", DEFAULT_WAVES).frame


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_for_date_is_pacific_and_dst_aware():
    # 06:30 UTC is 23:30 PDT of the previous day in summer, 22:30 PST in winter
    epochs = np.array([_epoch("2020-07-02T06:30:00"), _epoch("2020-01-02T06:30:00"),
                       _epoch("2020-07-02T07:30:00")])  # fmt: skip
    got = for_dates(epochs, LA).astype(str).tolist()
    assert got == ["2020-07-01", "2020-01-01", "2020-07-02"]


def test_cutoff_is_4am_next_morning_local():
    assert cutoff_epoch(date(2020, 7, 1), LA) == _epoch("2020-07-02T11:00:00")  # PDT
    assert cutoff_epoch(date(2020, 1, 1), LA) == _epoch("2020-01-02T12:00:00")  # PST
    # spring forward: 2021-03-14 02:00 skipped; cut-off of 03-13 is 04:00 PDT on 03-14
    assert cutoff_epoch(date(2021, 3, 13), LA) == _epoch("2021-03-14T11:00:00")


def test_last_closed_day():
    assert last_closed_day(datetime(2020, 7, 2, 10, 59, tzinfo=UTC), LA) == date(2020, 6, 30)
    assert last_closed_day(datetime(2020, 7, 2, 11, 0, tzinfo=UTC), LA) == date(2020, 7, 1)


def test_metadata_columns_never_count():
    for col in ["StartDate", "Duration (in seconds)", "Duration..in.seconds.", "token", "S1",
                "SurveyID", "Q_TerminateFlag", "QState_A3", "QCity_A3", "A1_DO", "random7"]:  # fmt: skip
        assert is_metadata(col), col
    for col in ["A1_1", "Q36", "Q40", "B2_14_TEXT", "D1"]:
        assert not is_metadata(col), col


def test_answer_counting_numeric_items_need_a_number():
    rows = [
        response("R1", "t", "2021-01-01 10:00:00", A1_1="", A2="a few", B2="", Q40="2.5"),
        response("R2", "t", "2021-01-01 10:00:00", A1_1="", A2="3 people", B2="", Q40=""),
        response("R3", "t", "2021-01-01 10:00:00", A1_1="", A2="", B2="", Q_TerminateFlag="x"),
    ]
    counts = answered_counts(_frame(rows), PanelRules())
    assert counts.tolist() == [1, 0, 0]


def test_exclusion_reasons_in_rule_order():
    rows = [
        response("R0", "t0", "2021-01-01 10:00:00"),
        response("R1", "t1", "2021-01-01 10:00:00", S1="2"),
        response("R2", "", "2021-01-01 10:00:00"),
        response("R3", "t3", "2021-01-01 10:00:00", DistributionChannel="preview"),
        response("R4", "t4", "2021-01-01 10:00:00", SurveyID=""),
        response("R5", "t5", "2021-01-01 10:00:00", A1_1="", A2="", B2="4"),
        response("R6", "t6", "2021-01-01 10:00:00", S1="2", DistributionChannel="preview"),
        response("R7", "t7", "2021-01-01 10:00:00", Finished="0", Progress="12"),
    ]
    reasons = exclusion_reasons(_frame(rows), PanelRules()).tolist()
    assert reasons == [pd.NA, "no_age_consent", "no_token", "preview", "no_survey_id",
                       "too_few_answers", "no_age_consent", pd.NA]  # fmt: skip
    counts = count_reasons(pd.Series(reasons, dtype="string"))
    assert counts["no_age_consent"] == 2 and counts["outside_us"] == 0


def test_optional_us_state_rule():
    rows = [response("R0", "t0", "2021-01-01 10:00:00", QState_A3="DC"),
            response("R1", "t1", "2021-01-01 10:00:00", QState_A3="ON")]  # fmt: skip
    reasons = exclusion_reasons(_frame(rows), PanelRules(require_us_state=True)).tolist()
    assert reasons == [pd.NA, "outside_us"]


def test_earliest_start_wins_with_tie_breaks():
    rows = [
        response("Rc", "t", "2021-01-01 10:00:00", "2021-01-01 11:00:00"),
        response("Rb", "t", "2021-01-01 09:00:00", "2021-01-03 11:00:00"),  # earliest start
        response("Ra", "u", "2021-01-01 09:00:00", "2021-01-01 10:00:00"),
        response("Rz", "u", "2021-01-01 09:00:00", "2021-01-01 09:30:00"),  # earlier recorded
        response("Ry", "v", "2021-01-01 09:00:00", "2021-01-01 09:30:00"),
        response("Rx", "v", "2021-01-01 09:00:00", "2021-01-01 09:30:00"),  # smaller id
    ]
    winners = coll.earliest_per_token(coll.candidates(_frame(rows)))
    assert dict(zip(winners["_token"], winners["ResponseId"], strict=True)) == {
        "t": "Rb", "u": "Rz", "v": "Rx"
    }  # fmt: skip


def test_dedupe_keeps_most_recently_recorded_copy():
    rows = [
        response("R1", "t", "2021-01-01 10:00:00", "2021-01-01 11:00:00", A1_1="1"),
        response("R1", "t", "2021-01-01 10:00:00", "2021-01-01 12:00:00", A1_1="2"),
    ]
    out = coll.dedupe_responses(_frame(rows))
    assert len(out) == 1 and out["A1_1"].iloc[0] == "2"


def test_candidates_need_token_and_survey_id():
    rows = [response("R1", "", "2021-01-01 10:00:00"),
            response("R2", "t", "2021-01-01 10:00:00", SurveyID=""),
            response("R3", "t", "2021-01-01 11:00:00")]  # fmt: skip
    assert coll.candidates(_frame(rows))["ResponseId"].tolist() == ["R3"]


def test_on_time_day_uses_cutoff_of_the_start_day():
    rows = [
        response("R1", "a", "2021-06-01 10:00:00", "2021-06-02 03:59:59"),  # on time
        response("R2", "b", "2021-06-01 10:00:00", "2021-06-02 04:00:01"),  # late
        response("R3", "b", "2021-06-03 10:00:00", "2021-06-03 10:30:00"),  # on time, later day
    ]
    days = coll.on_time_days(_frame(rows), LA, 4)
    assert {k: str(v)[:10] for k, v in days.items()} == {"a": "2021-06-01", "b": "2021-06-03"}


def test_merge_layouts_is_order_independent():
    w1 = (1.0, ["A1", "A2", "C1"])
    w2 = (2.0, ["A1", "A2", "B1", "C1", "D1"])
    w3 = (3.0, ["A1", "E1", "A2"])
    expected = ["A1", "E1", "A2", "B1", "C1", "D1"]
    assert merge_layouts([w1, w2, w3]) == expected
    assert merge_layouts([w3, w2, w1]) == expected


def test_first_rows_keeps_each_keys_first_row_in_row_order():
    import pyarrow as pa

    from pipeline.panel.collisions import first_rows

    table = pa.table({"cid": ["b", "a", "b", "c", "a"], "file": ["1", "1", "2", "2", "3"]})
    assert first_rows(table, "cid").to_pylist() == [
        {"cid": "b", "file": "1"}, {"cid": "a", "file": "1"}, {"cid": "c", "file": "2"},
    ]  # fmt: skip
    assert first_rows(table.slice(0, 0), "cid").num_rows == 0
