"""Stage 4, :mod:`pipeline.panel.stages.ledger`: the batch merged into the token ledger.
Earliest start wins, for all time: a later response of a known token is a collision, an
earlier one a swap (both days dirty); a rebuild starts from an empty ledger."""

from __future__ import annotations

import pytest

from pipeline.panel.lag import ON_TIME
from pipeline.panel.stages.ledger import DeltaPart, LedgerDelta, resolve_collisions
from pipeline.staging import read_table
from pipeline.state.run_ledger import LEDGER_TYPES, RunLedger
from tests.exports import response

NIGHT1, NIGHT2 = "2021-06-03T12:00:00Z", "2021-06-04T12:00:00Z"  # 05:00 PDT


def _delta(panel, clock: str, **kw):
    """Run through eligibility, then the stage under test."""
    ctx = panel.context(clock, **kw)
    staged = panel.stages(ctx, until="eligibility")
    return resolve_collisions(ctx, staged.elig), staged


def _rows(delta: LedgerDelta) -> dict[str, dict]:
    """The night's changed ledger rows (with ``old_day``, ``winner_changed``); they are the
    run ledger's rows too."""
    if not delta.parts:
        return {}
    rows = {r["token"]: r for r in read_table(_part(delta).rows).to_pylist()}
    stored = RunLedger(delta.ledger).select(list(LEDGER_TYPES)).to_pylist()
    assert {r["token"]: r for r in stored} == {
        t: {c: r[c] for c in LEDGER_TYPES} for t, r in rows.items()
    }
    return rows


def _part(delta: LedgerDelta) -> DeltaPart:
    [part] = delta.parts  # one night: one batch
    return part


def _winner_ids(delta: LedgerDelta, staged) -> list[str]:
    """ResponseIds of the new eligible winners, in the stage's order (day, publication)."""
    if not delta.parts:
        return []
    part = _part(delta)
    positions = read_table(part.winners).column("_pos")
    return read_table(part.batch).column("ResponseId").take(positions).to_pylist()


def test_earliest_start_wins_within_a_batch(panel):
    panel.export("a.csv", [
        response("F1", "fw", "2021-06-01 11:00:00"),  # the forwarded link, later start
        response("O1", "fw", "2021-06-01 10:00:00", "2021-06-02 14:00:00"),  # original, late
        response("T2", "tie", "2021-06-02 08:00:00", "2021-06-02 08:30:00"),
        response("T1", "tie", "2021-06-02 08:00:00", "2021-06-02 08:20:00"),  # recorded first
        response("K1", "ok", "2021-06-01 09:00:00"),
        response("N1", "", "2021-06-01 09:00:00"),  # no token: never in the ledger
        response("S1", "nosurvey", "2021-06-01 09:00:00", SurveyID=""),  # neither
    ])  # fmt: skip
    delta, staged = _delta(panel, NIGHT1)
    rows = _rows(delta)
    assert {t: r["response_id"] for t, r in rows.items()} == {"fw": "O1", "tie": "T1", "ok": "K1"}
    assert (delta.tokens_seen, delta.new_tokens, delta.collisions, delta.swaps) == (3, 3, 2, 0)
    assert delta.dirty_days == ("2021-06-01", "2021-06-02")
    assert rows["fw"]["day"] == "2021-06-01" and rows["tie"]["day"] == "2021-06-02"
    # fw's only on-time response lost, but the token is on time through it
    assert rows["fw"]["on_time_day"] == "2021-06-01" and rows["fw"]["cid_pending"]
    # new winners by day, in publication order (start, recorded, ResponseId)
    assert _part(delta).winner_slices == {"2021-06-01": (0, 2), "2021-06-02": (2, 1)}
    assert _winner_ids(delta, staged) == ["K1", "O1", "T1"]
    assert read_table(_part(delta).winners).column(ON_TIME).to_pylist() == [True, True, True]


def test_an_ineligible_winner_publishes_nothing_and_is_not_replaced(panel):
    panel.export("a.csv", [
        response("P1", "t", "2021-06-01 09:00:00", DistributionChannel="preview"),
        response("R2", "t", "2021-06-01 10:00:00"),  # someone else, later: removed
        response("N1", "n", "2021-06-02 09:00:00"),
    ])  # fmt: skip
    delta, staged = _delta(panel, NIGHT1)
    row = _rows(delta)["t"]
    assert (row["response_id"], row["eligible"], row["reason"]) == ("P1", False, "preview")
    assert delta.collisions == 1 and _part(delta).winner_slices == {"2021-06-02": (0, 1)}
    assert _winner_ids(delta, staged) == ["N1"]  # R2 does not take t's place
    assert delta.dirty_days == ("2021-06-01", "2021-06-02")


def test_a_later_response_of_a_known_token_is_a_collision(panel):
    panel.export("a.csv", [response("R1", "t", "2021-06-01 09:00:00")])
    panel.night(NIGHT1)
    panel.export("b.csv", [response("R2", "t", "2021-06-03 09:00:00"),  # weeks later, say
                           response("N1", "n", "2021-06-03 10:00:00")])  # fmt: skip
    delta, staged = _delta(panel, NIGHT2)
    assert (delta.collisions, delta.swaps, delta.new_tokens, delta.tokens_seen) == (1, 0, 1, 2)
    assert set(_rows(delta)) == {"n"}  # t's ledger row does not change
    assert delta.dirty_days == ("2021-06-03",) and _winner_ids(delta, staged) == ["N1"]
    assert panel.store.ledger_rows(["t"])["response_id"].tolist() == ["R1"]


@pytest.mark.parametrize("rows", [
    [response("R2", "t", "2021-06-03 09:00:00")],  # only a later response of a known token
    [response("P1", "p", "2021-06-03 09:00:00", DistributionChannel="preview")],  # ineligible
])  # fmt: skip
def test_a_batch_without_a_new_eligible_winner_changes_nothing_of_the_winners(panel, rows):
    panel.export("a.csv", [response("R1", "t", "2021-06-01 09:00:00")])
    panel.night(NIGHT1)
    panel.export("b.csv", rows)
    delta, staged = _delta(panel, NIGHT2)
    assert all(not p.winner_slices for p in delta.parts) and _winner_ids(delta, staged) == []


def test_an_earlier_response_of_a_known_token_swaps_and_marks_both_days(panel):
    panel.export("a.csv", [response("R2", "t", "2021-06-02 09:00:00"),
                           response("K1", "k", "2021-06-02 10:00:00")])  # fmt: skip
    panel.night(NIGHT1)
    # the original respondent started the evening before, recorded after that day's cut-off
    panel.export("b.csv", [response("R1", "t", "2021-06-01 22:00:00", "2021-06-02 22:00:00",
                                    A1_1="5")])  # fmt: skip
    delta, staged = _delta(panel, NIGHT2)
    assert (delta.swaps, delta.collisions, delta.new_tokens) == (1, 0, 0)
    assert delta.dirty_days == ("2021-06-01", "2021-06-02")
    row = _rows(delta)["t"]
    assert (row["response_id"], row["day"], row["old_day"]) == ("R1", "2021-06-01", "2021-06-02")
    assert row["winner_changed"] and row["eligible"]
    # R1 was late; the token stays on time from the day its first winner was
    assert row["on_time_day"] == "2021-06-02"
    assert _part(delta).winner_slices == {"2021-06-01": (0, 1)} and _winner_ids(delta, staged) == [
        "R1"
    ]


def test_a_late_winner_whose_token_becomes_on_time_marks_its_day(panel):
    panel.export("a.csv", [response("R1", "t", "2021-06-01 10:00:00", "2021-06-02 04:30:00")])
    panel.night(NIGHT1)
    assert panel.store.ledger_rows(["t"])["on_time_day"].isna().all()  # late: not on time
    panel.export("b.csv", [response("R2", "t", "2021-06-03 09:00:00"),  # on time, later start
                           response("N1", "n", "2021-06-03 10:00:00")])  # fmt: skip
    delta, staged = _delta(panel, NIGHT2)
    row = _rows(delta)["t"]
    assert row["response_id"] == "R1" and not row["winner_changed"]  # the winner stays
    assert row["on_time_day"] == "2021-06-03" and row["cid_pending"]
    # the winner's day is dirty (to publish it now), but R1 is no new winner
    assert delta.dirty_days == ("2021-06-01", "2021-06-03")
    assert delta.collisions == 1 and delta.swaps == 0 and _winner_ids(delta, staged) == ["N1"]


def test_a_rebuild_starts_from_an_empty_ledger(panel):
    panel.export("a.csv", [response("R1", "a", "2021-06-01 09:00:00"),
                           response("R3", "c", "2021-06-03 09:00:00")])  # fmt: skip
    panel.export("b.csv", [response("R2", "a", "2021-06-01 11:00:00")])
    panel.night("2021-06-04T12:00:00Z")  # 06-01..06-03 published, CID lists written
    assert panel.store.ledger_rows(["a"])["cid_day"].tolist() == ["2021-06-01"]

    nightly, _ = _delta(panel, "2021-06-04T13:00:00Z")
    assert nightly.parts == () and nightly.dirty_days == ()  # nothing new: nothing to merge

    delta, staged = _delta(panel, "2021-06-04T13:00:00Z", rebuild=True)
    assert (delta.new_tokens, delta.swaps, delta.collisions) == (2, 0, 1)
    assert sorted(_winner_ids(delta, staged)) == ["R1", "R3"]  # every winner is new
    # every known day is rebuilt, 06-02 (no responses) too
    assert delta.dirty_days == ("2021-06-01", "2021-06-02", "2021-06-03")
    rows = _rows(delta)
    assert {t: r["old_day"] for t, r in rows.items()} == {"a": None, "c": None}
    # which CID list each token went on is history, kept
    assert {t: r["cid_day"] for t, r in rows.items()} == {"a": "2021-06-01", "c": "2021-06-03"}
    assert not any(r["cid_pending"] for r in rows.values())


def test_a_changed_ledger_setting_rebuilds_with_the_new_rules(panel):
    panel.export("a.csv", [
        response("R1", "a", "2021-06-01 09:00:00"),  # three answers
        response("R2", "b", "2021-06-01 10:00:00", Q40="7"),  # four
    ])  # fmt: skip
    panel.night(NIGHT1)
    panel.configure(rules={"min_answers": 4})
    delta, staged = _delta(panel, NIGHT2)  # nothing new on the drop
    rows = _rows(delta)
    assert delta.new_tokens == 2 and delta.dirty_days == ("2021-06-01", "2021-06-02")
    assert (rows["a"]["eligible"], rows["a"]["reason"]) == (False, "too_few_answers")
    assert rows["b"]["eligible"] and _winner_ids(delta, staged) == ["R2"]


def test_a_batch_without_candidates_changes_nothing(panel):
    panel.export("a.csv", [response("R1", "", "2021-06-01 09:00:00"),
                           response("R2", "t", "2021-06-01 09:00:00", SurveyID="")])  # fmt: skip
    delta, staged = _delta(panel, NIGHT1)
    assert staged.elig.responses == 2
    assert delta == LedgerDelta(ledger=delta.ledger)  # no part, no counts, no day
    assert RunLedger(delta.ledger).count() == 0
