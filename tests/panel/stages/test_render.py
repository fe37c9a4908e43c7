"""Rendering a day, :mod:`pipeline.panel.stages.render`: a day's CSV bytes (header, NA,
order) from its store, and the rows withheld with and without a weights source."""

from __future__ import annotations

import pyarrow as pa

from pipeline.checks import CHECK_COLUMNS
from pipeline.panel.stages.render import EMPTY_STORE, DayRenderer, read_store
from pipeline.staging import read_table
from tests.exports import response

CLOCK = "2021-06-02T12:00:00Z"  # 06-01 closed
DAY = "2021-06-01"
QUESTIONS = ["A1_1", "A2", "A3", "B2", "B2_14_TEXT", "Q40"]
HEADER = "StartDatetime,EndDatetime,A1_1,A2,A3,B2,B2_14_TEXT,Q40,wave,UserLanguage,weight\n"


def _store(panel, rows, clock: str = CLOCK, **kw):
    """The day's store as the days stage builds it (not committed); returns (ctx, path)."""
    panel.export("a.csv", rows)
    ctx = panel.context(clock, **kw)
    build = panel.stages(ctx).build
    return ctx, build.stores[DAY].store


def _csv(ctx, rendered) -> str:
    return ctx.csv_cache(rendered.csv_sha).read_text()


def test_a_days_bytes_header_na_and_order(panel):
    ctx, store = _store(panel, [
        response("R2", "t2", "2021-06-01 10:00:00", "2021-06-01 10:30:00", end="2021-06-01 10:20:00",
                 A2="3.0", A3="02139", B2_14_TEXT="  lots   of\tspace ", Q40="2.50",
                 UserLanguage="ES"),
        # the same start: the one recorded first comes first, then the smaller ResponseId
        response("R9", "t9", "2021-06-01 09:00:00", "2021-06-01 09:40:00", EndDate="", A2="2.5",
                 A3="123456", B2="", Q40="junk", SurveyID="SV_notknown"),
        response("R8", "t8", "2021-06-01 09:00:00", "2021-06-01 09:40:00", A1_1="", B2="1"),
        response("R7", "t7", "2021-06-01 09:00:00", "2021-06-01 09:30:00", A2=""),
    ])  # fmt: skip
    renderer = DayRenderer.for_run(ctx, QUESTIONS, None, rebuild=False)
    rendered = renderer.render(DAY, store)
    assert _csv(ctx, rendered) == HEADER + (
        '2021-06-01 09:00:00,2021-06-01 09:00:00,2,NA,NA,"4,5",NA,NA,2,EN,NA\n'
        "2021-06-01 09:00:00,2021-06-01 09:00:00,NA,1,NA,1,NA,NA,2,EN,NA\n"
        "2021-06-01 09:00:00,NA,2,NA,NA,NA,NA,NA,NA,EN,NA\n"
        '2021-06-01 10:00:00,2021-06-01 10:20:00,2,3,02139,"4,5",lots of space,2.5,2,ES,NA\n'
    )
    assert (rendered.rows, rendered.withheld, rendered.store) == (4, 0, store)
    assert rendered.header == tuple(HEADER.strip().split(","))
    assert rendered.render_key == renderer.render_key
    checks = read_table(rendered.check)
    assert checks.column_names == CHECK_COLUMNS
    assert checks.column("_token").to_pylist() == ["t7", "t8", "t9", "t2"]
    # rendering the store again (another render step, say) gives the same bytes
    again = renderer.render(DAY, store)
    assert again.csv_sha == rendered.csv_sha


def test_a_day_without_winners_is_its_header(panel):
    ctx = panel.context(CLOCK)
    rendered = DayRenderer.for_run(ctx, QUESTIONS, None, rebuild=False).render(DAY, None)
    assert _csv(ctx, rendered) == HEADER
    assert (rendered.rows, rendered.withheld) == (0, 0)
    assert read_store(ctx, None).schema == EMPTY_STORE


def _ontime_late_other():
    return [
        response("R1", "ontime", "2021-06-01 09:00:00"),
        response("R2", "late", "2021-06-01 10:00:00", "2021-06-02 04:00:01"),  # past the cut-off
        response("R3", "other", "2021-06-01 11:00:00"),
    ]


def _weight_column(text: str) -> list[str]:
    return [line.rsplit(",", 1)[1] for line in text.splitlines()[1:]]


def test_without_weights_the_rows_not_on_time_are_withheld(panel):
    ctx, store = _store(panel, _ontime_late_other())
    rendered = DayRenderer.for_run(ctx, QUESTIONS, None, rebuild=False).render(DAY, store)
    assert (rendered.rows, rendered.withheld) == (2, 1)
    assert "10:00:00" not in _csv(ctx, rendered) and _weight_column(_csv(ctx, rendered)) == [
        "NA", "NA",
    ]  # fmt: skip


def test_with_weights_exactly_the_weighted_rows_are_published(make_panel):
    panel = make_panel(weights=True)
    ctx, store = _store(panel, _ontime_late_other())
    weights = pa.table({"cid": ["late", "nobody"], "weight": ["2.5", "1"]})
    rendered = DayRenderer.for_run(ctx, QUESTIONS, weights, rebuild=False).render(DAY, store)
    assert (rendered.rows, rendered.withheld) == (1, 2)  # late but weighted: published
    assert _weight_column(_csv(ctx, rendered)) == ["2.5"]
    none = DayRenderer.for_run(ctx, QUESTIONS, None, rebuild=False).render(DAY, store)
    assert (none.rows, none.withheld) == (0, 3) and _csv(ctx, none) == HEADER


def test_stored_weights_count_unless_rebuilding_and_this_runs_win(make_panel):
    panel = make_panel(weights=True)
    panel.weights_file("a_finish_full_survey_weights.csv", "cid,weight\nontime,1\nother,3\n")
    panel.export("a.csv", _ontime_late_other())
    panel.night(CLOCK)  # the weights are stored now
    ctx = panel.context("2021-06-02T13:00:00Z")
    store = panel.store.days()[DAY]["store"]
    stored = DayRenderer.for_run(ctx, QUESTIONS, None, rebuild=False).render(DAY, store)
    assert _weight_column(_csv(ctx, stored)) == ["1", "3"] and stored.withheld == 1
    new = pa.table({"cid": ["ontime"], "weight": ["5"]})
    mixed = DayRenderer.for_run(ctx, QUESTIONS, new, rebuild=False).render(DAY, store)
    assert _weight_column(_csv(ctx, mixed)) == ["5", "3"]
    # a rebuild brings every weight itself: the stored ones are not looked up
    rebuilt = DayRenderer.for_run(ctx, QUESTIONS, new, rebuild=True).render(DAY, store)
    assert _weight_column(_csv(ctx, rebuilt)) == ["5"] and rebuilt.withheld == 2


def test_a_zip_table_without_sparse_areas_masks_nothing(make_panel, tmp_path):
    zips = tmp_path / "zips.csv"
    zips.write_text("zip5,population\n98105,45000\n")
    panel = make_panel(zip_population=str(zips))
    ctx, store = _store(panel, [response("R1", "t1", "2021-06-01 09:00:00", A3="98105")])
    rendered = DayRenderer.for_run(ctx, QUESTIONS, None, rebuild=False).render(DAY, store)
    assert ",98105," in _csv(ctx, rendered)
