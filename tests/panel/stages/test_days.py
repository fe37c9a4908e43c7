"""Stage 6, :mod:`pipeline.panel.stages.days`: the day stores the delta touches rebuilt,
and which closed days are rendered (dirty, never rendered, settings changed)."""

from __future__ import annotations

from pipeline.panel.settings import CHANGE_NAMES
from pipeline.panel.stages.days import DayStore, build_days
from pipeline.panel.stages.render import read_store
from tests.exports import BASE_COLUMNS, response

NIGHT1 = "2021-06-04T12:00:00Z"  # 05:00 PDT: 06-03 is the last closed day


def _build(panel, clock: str, **kw):
    """Run through the lag stage, then the stage under test."""
    ctx = panel.context(clock, **kw)
    staged = panel.stages(ctx, until="lag")
    return build_days(ctx, staged.norm, staged.delta, staged.lag), ctx


def _tokens(ctx, store: DayStore) -> list[str]:
    return sorted(read_store(ctx, store.store).column("_token").to_pylist())


def _three_days(panel):
    panel.export("a.csv", [
        response("R1", "a", "2021-06-01 09:00:00"),
        response("R2", "b", "2021-06-01 10:00:00", "2021-06-02 06:00:00"),  # late: withheld
        response("R3", "c", "2021-06-03 09:00:00"),
        response("R4", "d", "2021-06-04 01:00:00"),  # 06-04 is not closed yet
    ])  # fmt: skip


def test_first_night_renders_every_closed_day_and_stores_every_dirty_one(panel):
    _three_days(panel)
    build, ctx = _build(panel, NIGHT1)
    assert sorted(build.rendered) == ["2021-06-01", "2021-06-02", "2021-06-03"]
    assert {d: (r.rows, r.withheld) for d, r in build.rendered.items()} == {
        "2021-06-01": (1, 1), "2021-06-02": (0, 0), "2021-06-03": (1, 0),
    }  # fmt: skip
    assert build.withheld == 1
    # a store for each day with winners, the open day too; 06-02 has none
    assert {d: s.rows for d, s in build.stores.items()} == {
        "2021-06-01": 2, "2021-06-03": 1, "2021-06-04": 1,
    }  # fmt: skip
    assert _tokens(ctx, build.stores["2021-06-01"]) == ["a", "b"]
    assert (ctx.work / build.stores["2021-06-04"].store).is_file()
    assert build.questions == ("A1_1", "A2", "A3", "B2", "B2_14_TEXT", "Q40")
    assert not build.schema_changed and build.rerendered == ()
    assert build.change == CHANGE_NAMES["store_version"]  # a new study: no settings before
    assert build.settings["cutoff_hour"] == 4 and build.settings["header"]


def test_a_later_night_renders_new_and_dirty_days_only(panel):
    _three_days(panel)
    panel.night(NIGHT1)
    build, _ = _build(panel, "2021-06-05T12:00:00Z")  # nothing new: 06-04 closes
    assert sorted(build.rendered) == ["2021-06-04"] and build.stores == {}
    assert build.rendered["2021-06-04"].rows == 1  # from the store of the night before
    panel.export("b.csv", [response("R5", "e", "2021-06-02 09:00:00")])
    build, ctx = _build(panel, "2021-06-05T12:00:00Z")
    assert sorted(build.rendered) == ["2021-06-02", "2021-06-04"]
    assert set(build.stores) == {"2021-06-02"} and _tokens(ctx, build.stores["2021-06-02"]) == ["e"]
    assert build.rendered["2021-06-02"].rows == 1 and build.rerendered == ()


def test_changed_settings_render_every_published_day_again(panel, tmp_path):
    _three_days(panel)
    panel.night(NIGHT1)
    zips = tmp_path / "zips.csv"
    zips.write_text("zip5,population\n99999,12\n98105,45000\n")
    panel.configure(zip_population=str(zips))
    build, _ = _build(panel, "2021-06-04T13:00:00Z")  # nothing new, same closed days
    published = ["2021-06-01", "2021-06-02", "2021-06-03"]
    assert sorted(build.rendered) == published and sorted(build.rerendered) == published
    assert build.change == "ZIP population table changed"
    stored = panel.store.days()
    for day in published:  # no ZIP in the data: the same bytes, under the new key
        assert build.rendered[day].csv_sha == stored[day]["csv_sha"]
        assert build.rendered[day].render_key != stored[day]["render_key"]


def test_a_new_column_changes_the_header_of_every_day(panel):
    _three_days(panel)
    panel.night(NIGHT1)
    panel.export("b.csv", [response("R6", "f", "2021-06-04 09:00:00", Z9="new")],
                 columns=[*BASE_COLUMNS, "Z9"])  # fmt: skip
    build, _ = _build(panel, "2021-06-05T12:00:00Z")
    assert build.schema_changed and build.questions[-1] == "Z9"
    assert sorted(build.rerendered) == ["2021-06-01", "2021-06-02", "2021-06-03"]
    assert build.rendered["2021-06-04"].header[-4:] == ("Z9", "wave", "UserLanguage", "weight")
    assert "published columns changed" in build.change


def test_forced_days_are_rendered_again_without_a_settings_change(panel):
    _three_days(panel)
    panel.night(NIGHT1)
    build, _ = _build(panel, "2021-06-04T13:00:00Z", forced_days=frozenset({"2021-06-02"}))
    assert sorted(build.rendered) == ["2021-06-02"] and build.rerendered == ()


def test_a_swap_rebuilds_the_stores_of_both_days(panel):
    panel.export("a.csv", [response("K1", "k", "2021-06-01 08:00:00"),
                           response("R2", "t", "2021-06-02 09:00:00"),
                           response("M1", "m", "2021-06-02 10:00:00")])  # fmt: skip
    panel.night("2021-06-03T12:00:00Z")
    # t's original respondent started on 06-01
    panel.export("b.csv", [response("R1", "t", "2021-06-01 09:00:00", "2021-06-02 09:30:00")])
    build, ctx = _build(panel, "2021-06-03T13:00:00Z")
    assert _tokens(ctx, build.stores["2021-06-01"]) == ["k", "t"]  # k kept, t added
    assert _tokens(ctx, build.stores["2021-06-02"]) == ["m"]  # t left
    ids = read_store(ctx, build.stores["2021-06-01"].store).column("ResponseId").to_pylist()
    assert sorted(ids) == ["K1", "R1"]
    assert sorted(build.rendered) == ["2021-06-01", "2021-06-02"]
    assert (build.rendered["2021-06-01"].rows, build.rendered["2021-06-02"].rows) == (2, 1)


def test_a_day_whose_only_winner_moves_away_has_no_store(panel):
    panel.export("a.csv", [response("R2", "t", "2021-06-02 09:00:00"),
                           response("K1", "k", "2021-06-01 08:00:00")])  # fmt: skip
    panel.night("2021-06-03T12:00:00Z")
    panel.export("b.csv", [response("R1", "t", "2021-06-01 09:00:00", "2021-06-02 09:30:00")])
    build, _ = _build(panel, "2021-06-03T13:00:00Z")
    assert build.stores["2021-06-02"] == DayStore(None, 0)
    assert build.rendered["2021-06-02"].rows == 0 and build.rendered["2021-06-02"].store is None


def test_a_rebuild_renders_every_day_from_rebuilt_stores(panel):
    _three_days(panel)
    panel.night(NIGHT1)
    build, ctx = _build(panel, "2021-06-04T13:00:00Z", rebuild=True)
    assert sorted(build.rerendered) == ["2021-06-01", "2021-06-02", "2021-06-03"]
    stored = panel.store.days()
    assert build.stores["2021-06-01"].store != stored["2021-06-01"]["store"]  # a new file
    assert _tokens(ctx, build.stores["2021-06-01"]) == ["a", "b"]
    assert all(build.rendered[d].csv_sha == stored[d]["csv_sha"] for d in build.rerendered)
