"""Stage 3, :mod:`pipeline.panel.stages.eligibility`: one copy per ResponseId (the most
recently recorded) and its first failed rule."""

from __future__ import annotations

from pipeline.panel.eligibility import REASONS
from pipeline.panel.stages.eligibility import apply_eligibility
from pipeline.staging import read_table
from tests.exports import response

CLOCK = "2021-06-03T12:00:00Z"


def _judged(panel, clock: str = CLOCK):
    """Run through normalize, then the stage under test; returns (result, {rid: reason},
    the kept rows of the batch)."""
    ctx = panel.context(clock)
    norm = panel.stages(ctx, until="normalize").norm
    res = apply_eligibility(ctx, norm)
    [reasons_file], [batch_file] = res.reasons, res.batches  # one night: one batch
    judged = read_table(reasons_file)
    batch = read_table(batch_file).take(judged.column("_pos"))
    reasons = dict(zip(batch.column("ResponseId").to_pylist(),
                       judged.column("_reason").to_pylist(), strict=True))  # fmt: skip
    return res, reasons, batch


def test_duplicates_keep_the_most_recently_recorded_copy_across_files(panel):
    # the newest copy is in the file that is read first, and the oldest in the last
    panel.export("a.csv", [response("R1", "t1", "2021-06-01 09:00:00", "2021-06-01 12:00:00",
                                    A1_1="newest")])  # fmt: skip
    panel.export("b.csv", [response("R1", "t1", "2021-06-01 09:00:00", "2021-06-01 10:00:00",
                                    A1_1="oldest"),
                           response("R2", "t2", "2021-06-01 10:00:00")])  # fmt: skip
    panel.export("c.csv", [response("R1", "t1", "2021-06-01 09:00:00", "2021-06-01 11:00:00",
                                    A1_1="middle")])  # fmt: skip
    res, reasons, batch = _judged(panel)
    assert (res.responses, res.duplicates, res.eligible) == (2, 2, 2)
    kept = dict(zip(batch.column("ResponseId").to_pylist(), batch.column("A1_1").to_pylist(),
                    strict=True))  # fmt: skip
    assert kept == {"R1": "newest", "R2": "2"}


def test_the_kept_copy_decides_the_reason(panel):
    # an eligible first copy, then a newer copy without age consent: excluded
    panel.export("a.csv", [
        response("R1", "t1", "2021-06-01 09:00:00", "2021-06-01 09:30:00"),
        response("R1", "t1", "2021-06-01 09:00:00", "2021-06-01 09:45:00", S1="2"),
        # an excluded first copy, then a newer eligible one
        response("R2", "t2", "2021-06-01 10:00:00", "2021-06-01 10:10:00", A1_1="", A2="", B2=""),
        response("R2", "t2", "2021-06-01 10:00:00", "2021-06-01 10:20:00"),
    ])  # fmt: skip
    res, reasons, _ = _judged(panel)
    assert reasons == {"R1": "no_age_consent", "R2": None}
    assert res.excluded["no_age_consent"] == 1 and res.excluded["too_few_answers"] == 0


def test_each_response_gets_its_first_failed_rule(panel):
    panel.export("a.csv", [
        response("R0", "t0", "2021-06-01 09:00:00"),
        response("R1", "t1", "2021-06-01 09:00:00", S1="2", DistributionChannel="preview"),
        response("R2", "", "2021-06-01 09:00:00", DistributionChannel="preview"),
        response("R3", "t3", "2021-06-01 09:00:00", DistributionChannel="Preview", SurveyID=""),
        response("R4", "t4", "2021-06-01 09:00:00", SurveyID="", A1_1="", A2="", B2=""),
        response("R5", "t5", "2021-06-01 09:00:00", A1_1="", A2="many", B2="4"),
        # abandoned (Finished=0) with two answers: eligible; an unknown SurveyID too
        response("R6", "t6", "2021-06-01 09:00:00", Finished="0", Progress="12",
                 SurveyID="SV_notknown"),
    ])  # fmt: skip
    res, reasons, _ = _judged(panel)
    assert reasons == {
        "R0": None, "R1": "no_age_consent", "R2": "no_token", "R3": "preview",
        "R4": "no_survey_id", "R5": "too_few_answers", "R6": None,
    }  # fmt: skip
    assert res.responses == 7 and res.eligible == 2 and res.duplicates == 0
    assert res.excluded == {
        "no_age_consent": 1, "no_token": 1, "preview": 1, "no_survey_id": 1,
        "too_few_answers": 1, "outside_us": 0,
    }  # fmt: skip


def test_the_optional_us_state_rule_is_applied_when_configured(make_panel):
    panel = make_panel(rules={"require_us_state": True})
    panel.export("a.csv", [response("R1", "t1", "2021-06-01 09:00:00", QState_A3="WA"),
                           response("R2", "t2", "2021-06-01 09:00:00", QState_A3="BC")])  # fmt: skip
    res, reasons, _ = _judged(panel)
    assert reasons == {"R1": None, "R2": "outside_us"}
    assert res.excluded["outside_us"] == 1


def test_no_batch_no_responses(panel):
    ctx = panel.context(CLOCK)
    res = apply_eligibility(ctx, panel.stages(ctx, until="normalize").norm)
    assert res.batches == () and res.reasons == () and res.responses == 0
    assert res.excluded == dict.fromkeys(REASONS, 0)
