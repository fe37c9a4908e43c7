"""Stage 5, :mod:`pipeline.panel.stages.lag`: the clock gap refused, CID lists due once a
day's cut-off has passed, and new weights (the file that sorts first wins)."""

from __future__ import annotations

import pytest

from pipeline.panel.stages.lag import ClockGapError, apply_lag_policy, check_clock_gap
from pipeline.staging import read_table
from tests.exports import response

NIGHT1 = "2021-06-02T12:00:00Z"  # 05:00 PDT: 06-01 closed


def _lag(panel, clock: str, **kw):
    """Run through the ledger stage, then the stage under test."""
    ctx = panel.context(clock, **kw)
    staged = panel.stages(ctx, until="ledger")
    return apply_lag_policy(ctx, staged.delta), staged


def _weights(lag) -> dict[str, tuple[str, str]]:
    rows = read_table(lag.weights).to_pylist() if lag.weights else []
    return {r["cid"]: (r["weight"], r["file"]) for r in rows}


# --- the clock gap -------------------------------------------------------------------------


def test_a_clock_past_max_gap_days_is_refused(panel):
    panel.export("a.csv", [response("R1", "t", "2021-06-01 09:00:00")])
    lag, _ = _lag(panel, "2021-06-09T12:00:00Z")  # closes 06-08: 7 days after 06-01
    assert lag.last_closed == "2021-06-08"
    with pytest.raises(ClockGapError, match="8 days after the newest responses .2021-06-01.; "
                       "max_gap_days is 7"):  # fmt: skip
        _lag(panel, "2021-06-10T12:00:00Z")


def test_the_gap_counts_from_stored_days_and_follows_max_gap_days(make_panel):
    panel = make_panel(max_gap_days=9)
    panel.export("a.csv", [response("R1", "t", "2021-06-01 09:00:00")])
    panel.night(NIGHT1)
    ctx = panel.context("2021-06-11T12:00:00Z")  # nothing new; 06-10 is 9 days on
    staged = panel.stages(ctx, until="ledger")
    assert staged.delta.dirty_days == ()
    assert apply_lag_policy(ctx, staged.delta).last_closed == "2021-06-10"
    with pytest.raises(ClockGapError):
        _lag(panel, "2021-06-12T12:00:00Z")


def test_a_study_without_responses_has_no_gap(panel):
    ctx = panel.context("2030-01-01T12:00:00Z")
    delta = panel.stages(ctx, until="ledger").delta
    check_clock_gap(ctx, delta, ctx.last_closed)  # no error
    lag = apply_lag_policy(ctx, delta)
    assert (lag.last_closed, lag.cid_counts) == ("2029-12-31", {})


# --- CID lists --------------------------------------------------------------------------------


def _day1(panel):
    panel.export("a.csv", [
        response("R1", "zed", "2021-06-01 09:00:00"),
        response("R2", "amy", "2021-06-01 10:00:00", "2021-06-02 03:59:59"),  # just on time
        response("R3", "late", "2021-06-01 11:00:00", "2021-06-02 04:00:01"),  # just late
        response("R4", "open", "2021-06-02 01:00:00"),  # a day not closed at NIGHT1
    ])  # fmt: skip


def test_no_cid_list_before_the_cutoff(panel):
    _day1(panel)
    lag, _ = _lag(panel, "2021-06-02T10:59:59Z")  # 03:59:59 PDT on 06-02
    assert lag.last_closed == "2021-05-31"
    assert (lag.cid_lists, lag.cid_counts, dict(lag.cid_list_tokens())) == (None, {}, {})


def test_cid_list_due_after_the_cutoff_holds_the_tokens_on_time(panel):
    _day1(panel)
    lag, _ = _lag(panel, "2021-06-02T11:00:00Z")  # 04:00 PDT: 06-01 closes
    assert lag.last_closed == "2021-06-01"
    assert lag.cid_counts == {"2021-06-01": 2}
    assert dict(lag.cid_list_tokens()) == {"2021-06-01": ["amy", "zed"]}  # sorted; late, open wait


def test_each_list_once_empty_ones_too_and_late_tokens_on_the_newest(panel):
    _day1(panel)
    panel.night(NIGHT1)  # 06-01's list written
    assert panel.store.cid_list_days() == {"2021-06-01"}
    # a response of 06-01, on time, that reached the drop only now
    panel.export("b.csv", [response("R5", "bob", "2021-06-01 12:00:00", "2021-06-01 12:30:00")])
    lag, _ = _lag(panel, "2021-06-04T12:00:00Z")  # 06-02 and 06-03 now due
    assert lag.cid_counts == {"2021-06-02": 1, "2021-06-03": 1}
    assert dict(lag.cid_list_tokens()) == {"2021-06-02": ["open"], "2021-06-03": ["bob"]}


def test_nothing_due_when_every_closed_day_has_its_list(panel):
    _day1(panel)
    panel.night(NIGHT1)
    lag, _ = _lag(panel, "2021-06-02T13:00:00Z")  # same day, later clock
    assert lag.cid_counts == {} and lag.cid_lists is None


# --- weights ------------------------------------------------------------------------------


def _weighted(make_panel):
    panel = make_panel(weights=True)
    panel.export("a.csv", [response(f"R{t}", t, "2021-06-01 09:00:00") for t in "abc"])
    panel.weights_file(
        "b_finish_full_survey_weights.csv", '"cid","weight"\n"a","1.5"\n"b","2.25"\n'
    )
    panel.weights_file("a_finish_full_survey_weights.csv", "cid,weight\nb,9\n")
    panel.weights_file("notes.csv", "cid,weight\nc,4\n")  # not a weights file's name
    return panel


def test_weights_the_file_that_sorts_first_wins(make_panel):
    panel = _weighted(make_panel)
    lag, _ = _lag(panel, NIGHT1)
    assert _weights(lag) == {
        "b": ("9", "a_finish_full_survey_weights.csv"),
        "a": ("1.5", "b_finish_full_survey_weights.csv"),
    }  # fmt: skip
    assert lag.weight_count == 2
    assert sorted((f.path, f.status, f.rows) for f in lag.weight_files) == [
        ("a_finish_full_survey_weights.csv", "applied", 1),
        ("b_finish_full_survey_weights.csv", "applied", 2),
    ]  # fmt: skip
    assert lag.weight_days == ()  # no token in the stored ledger yet


def test_new_weights_replace_stored_ones_only_from_a_file_sorting_earlier(make_panel):
    panel = _weighted(make_panel)
    panel.night(NIGHT1)
    panel.weights_file("0_finish_full_survey_weights.csv", "cid,weight\nb,7\n")  # sorts first
    panel.weights_file("z_finish_full_survey_weights.csv", "cid,weight\na,5\nc,4\n")
    lag, _ = _lag(panel, "2021-06-03T12:00:00Z")
    assert _weights(lag) == {
        "b": ("7", "0_finish_full_survey_weights.csv"),
        "c": ("4", "z_finish_full_survey_weights.csv"),  # new: no stored weight
    }  # a keeps 1.5 from b_...  # fmt: skip
    assert lag.weight_days == ("2021-06-01",)  # the days of the tokens, to render again
    # nothing new the night after: no weights, no days
    panel.night("2021-06-03T12:00:00Z")
    lag, _ = _lag(panel, "2021-06-04T12:00:00Z")
    assert (lag.weights, lag.weight_files, lag.weight_days) == (None, (), ())


def test_a_bad_weights_file_is_quarantined_and_the_others_apply(make_panel):
    panel = _weighted(make_panel)
    panel.weights_file("x_finish_full_survey_weights.csv", "cid,weight\nc,heavy\n")
    lag, _ = _lag(panel, NIGHT1)
    [q] = lag.quarantined
    assert q.path == "x_finish_full_survey_weights.csv"
    assert q.error.startswith("x_finish_full_survey_weights.csv, line 2") and "heavy" not in q.error
    status = {f.path: f.status for f in lag.weight_files}
    assert status["x_finish_full_survey_weights.csv"] == "quarantined"
    assert set(_weights(lag)) == {"a", "b"}


def test_a_rebuild_reads_every_archived_weights_file(make_panel):
    panel = _weighted(make_panel)
    panel.night(NIGHT1)
    lag, _ = _lag(panel, "2021-06-02T13:00:00Z", rebuild=True)
    assert lag.rebuild
    assert _weights(lag) == {
        "b": ("9", "a_finish_full_survey_weights.csv"),
        "a": ("1.5", "b_finish_full_survey_weights.csv"),
    }  # fmt: skip
    assert lag.weight_files == ()  # nothing new was fetched


def test_without_a_weights_source_no_weights(panel):
    panel.export("a.csv", [response("R1", "t", "2021-06-01 09:00:00")])
    panel.weights_file("a_finish_full_survey_weights.csv", "cid,weight\nt,1\n")  # not configured
    lag, _ = _lag(panel, NIGHT1)
    assert (lag.weights, lag.weight_count, lag.weight_files, lag.rebuild) == (None, 0, (), False)
