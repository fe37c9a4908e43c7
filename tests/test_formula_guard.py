"""Spreadsheet formulas in free text (issue 28, item 7): a panel text cell a spreadsheet would
run (= + - @, not a number) is published with a leading apostrophe; ``rules.guard_formulas``
turns that off, and switching it re-renders every day once (SPEC §3.6, "Rules reach every
day") with one CORRECTION for the days whose bytes change."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
import pytest

from pipeline.config import Config, PanelRules
from pipeline.panel import output, settings
from pipeline.panel.codebook import FORMULA_NOTE
from pipeline.panel.output import day_table, format_text, guard_formulas
from pipeline.panel.qualtrics import END, RECORDED, START, TOKEN, WAVE
from pipeline.panel.stages import days, render
from pipeline.state.store import StateStore
from tests.exports import response, write_export
from tests.study import Study

# --- the guard --------------------------------------------------------------------------------


def _guard(values: list[str | None]) -> tuple[list[str | None], int]:
    out, count = guard_formulas(format_text(pa.array(values, pa.string())))
    return out.to_pylist(), count


def test_formula_starts_get_an_apostrophe():
    values = ['=HYPERLINK("http://x.example")', "@SUM(A1)", "+cmd", "-cmd|' /C calc'!A0"]
    out, count = _guard(values)
    assert out == [f"'{v}" for v in values] and count == 4


def test_numbers_stay():
    values = ["-1", "+2.5", "-.5", "-1e5", "+0", "-3.", "7"]
    assert _guard(values) == (values, 0)


def test_a_tab_guard_that_trimming_removes_becomes_an_apostrophe():
    assert _guard(["\t=1+1", " \r\n@x", "\u00a0-x"]) == (["'=1+1", "'@x", "'-x"], 3)


def test_an_existing_guard_is_kept_and_not_doubled():
    assert _guard(["'=1+1", "\t'=1+1", "'"]) == (["'=1+1", "'=1+1", "'"], 0)


def test_other_text_codes_and_null_are_untouched():
    values = ["a-b = c", "4,5", "well-being", None, "NA", "-", "--"]
    out, count = _guard(values)
    assert out == ["a-b = c", "4,5", "well-being", None, "NA", "'-", "'--"]
    assert count == 2


def test_an_array_without_formulas_is_returned_as_it_is():
    plain = format_text(pa.array(["hello", "4,5", None]))
    out, count = guard_formulas(plain)
    assert out is plain and count == 0


def _stored(**questions: list[str | None]) -> pa.Table:
    n = len(next(iter(questions.values())))
    base = 1_622_563_200
    return pa.table({
        TOKEN: [f"t{i}" for i in range(n)], "ResponseId": [f"R{i}" for i in range(n)],
        START: pa.array([base + i for i in range(n)], pa.int64()),
        RECORDED: pa.array([base] * n, pa.int64()), END: pa.array([base] * n, pa.int64()),
        WAVE: pa.array([2] * n, pa.int64()), **questions,
    })  # fmt: skip


def test_day_table_guards_free_text_only():
    stored = _stored(
        A2=["-1", "=1"], A3=["-1234", "@5"], B2=["4,5", "-9"], Q40=["-2", "+x"],
        B2_14_TEXT=["=1+1", "-1"], UserLanguage=["=EN", "EN"],
    )  # fmt: skip
    questions = ["A2", "A3", "B2", "Q40", "B2_14_TEXT"]
    table, guarded = day_table(stored, questions, None, PanelRules(), "America/Los_Angeles")
    rows = table.select([*questions, "UserLanguage"]).to_pylist()
    assert [r["B2_14_TEXT"] for r in rows] == ["'=1+1", "-1"]
    assert [r["B2"] for r in rows] == ["4,5", "-9"]  # codes: a number stays
    assert [r["A2"] for r in rows] == ["-1", None]  # numeric items are numbers
    assert [r["Q40"] for r in rows] == ["-2", None]
    assert [r["A3"] for r in rows] == ["-1234", "@5"]  # the ZIP code is not free text
    assert [r["UserLanguage"] for r in rows] == ["=EN", "EN"]  # set by the platform
    assert guarded == 1
    off, unguarded = day_table(stored, questions, None, PanelRules(guard_formulas=False), "UTC")
    assert off.column("B2_14_TEXT").to_pylist() == ["=1+1", "-1"] and unguarded == 0


def test_the_setting_is_part_of_the_render_key_and_named_in_words():
    on, off = PanelRules(), PanelRules(guard_formulas=False)
    assert on.guard_formulas and "guard_formulas" in settings.RENDER_PARTS
    assert "guard_formulas" not in settings.LEDGER_PARTS  # no rebuild of the ledger

    def doc(rules: PanelRules) -> dict:
        return settings.render_settings(Config(rules=rules), ["B2_14_TEXT"], None)

    assert settings.key(doc(on), settings.RENDER_PARTS) != settings.key(
        doc(off), settings.RENDER_PARTS
    )
    parts = settings.RENDER_PARTS
    name = settings.CHANGE_NAMES["guard_formulas"]
    assert settings.describe_change(doc(on), doc(off), parts) == f"{name} off"
    assert settings.describe_change(doc(off), doc(on), parts) == f"{name} on"
    older = {k: v for k, v in doc(on).items() if k != "guard_formulas"}  # an older version's
    assert settings.describe_change(older, doc(on), parts) == f"{name} on"
    assert settings.describe_change(older, doc(off), parts) == "rendering rules changed"


# --- a study, night by night ------------------------------------------------------------------

NAME = "cvid_responses_2021_06_{:02d}_recordedby_2021_06_{:02d}.csv"
FORMULAS = ['=HYPERLINK("http://evil.example/?x=1","click")', "@SUM(A1)", "-1", "+cmd", "\t=1+1"]
GUARDED = ["'=HYPERLINK(\"http://evil.example/?x=1\",\"click\")", "'@SUM(A1)", "-1", "'+cmd",
           "'=1+1"]  # fmt: skip
AS_IS = ['=HYPERLINK("http://evil.example/?x=1","click")', "@SUM(A1)", "-1", "+cmd", "=1+1"]


@pytest.fixture
def study(tmp_path) -> Study:
    """06-01 holds five text answers that look like formulas, 06-02 plain text only."""
    study = Study(tmp_path, options={"reissue": "changed", "stabilization_days": 0})
    rows = [
        response(f"R{i}", f"t{i}", f"2021-06-01 09:0{i}:00", B2_14_TEXT=text, Q40="-3")
        for i, text in enumerate(FORMULAS)
    ]
    rows.append(response("R9", "t9", "2021-06-02 09:00:00", B2_14_TEXT="all good - thanks"))
    write_export(study.drop, "e.csv", rows)
    return study


def _column(study: Study, name: str, column: str) -> list[str]:
    return [row[column] for row in csv.DictReader(io.StringIO(study.text(name)))]


def _manifest(study: Study) -> dict:
    runs = sorted(f for f in study.files() if f.startswith("runs/") and f.endswith(".json"))
    return json.loads(study.text(runs[-1]))


def _corrections(study: Study) -> list[dict]:
    store = StateStore(f"sqlite:///{study.root / 'state.db'}")
    try:
        return [e for e in store.outages() if e["kind"] == "CORRECTION"]
    finally:
        store.dispose()


def _codebook_type(study: Study, variable: str) -> str:
    rows = csv.DictReader(io.StringIO(study.text("docs/codebook.csv")))
    return next(r["type"] for r in rows if r["variable"] == variable)


def _old_days_sent(study: Study) -> list[str]:
    """Days of 06-01/06-02 the newest run wrote (not linked)."""
    old = ("cvid_responses_2021_06_01_recordedby_", "cvid_responses_2021_06_02_recordedby_")
    return [f for f in _manifest(study)["published"] if f.startswith(old)]


def test_formulas_are_published_guarded_counted_and_documented(study):
    assert study.run("2021-06-03T12:00:00Z") == 0
    assert _column(study, NAME.format(1, 3), "B2_14_TEXT") == GUARDED
    assert _column(study, NAME.format(1, 3), "Q40") == ["-3"] * 5  # a numeric item
    assert _column(study, NAME.format(1, 3), "B2") == ["4,5"] * 5  # a code list
    assert _column(study, NAME.format(2, 3), "B2_14_TEXT") == ["all good - thanks"]
    assert _manifest(study)["cells_guarded_formula"] == 4
    assert _codebook_type(study, "B2_14_TEXT") == "text" + FORMULA_NOTE
    assert _codebook_type(study, "A1_1") == "integer"  # a code: a number is never guarded
    for variable in ("Q40", "A3", "UserLanguage", "StartDatetime"):
        assert FORMULA_NOTE not in _codebook_type(study, variable)
    # the next night renders nothing new: nothing guarded by this run
    assert study.run("2021-06-04T12:00:00Z") == 0
    assert _manifest(study)["cells_guarded_formula"] == 0


def test_switching_the_guard_off_and_on_reissues_only_the_days_it_changes(study):
    assert study.run("2021-06-03T12:00:00Z") == 0
    study.configure(rules={"guard_formulas": False})
    assert study.run("2021-06-04T12:00:00Z") == 0
    assert _old_days_sent(study) == [NAME.format(1, 4)]  # 06-02: the same bytes, not re-sent
    assert _column(study, NAME.format(1, 4), "B2_14_TEXT") == AS_IS
    assert _manifest(study)["cells_guarded_formula"] == 0
    assert FORMULA_NOTE not in _codebook_type(study, "B2_14_TEXT")
    [off] = _corrections(study)
    assert off["days"] == "2021-06-01"
    assert "spreadsheet formula guard (a leading ' before = + - @) turned off" in off["message"]

    study.configure(rules={"guard_formulas": True})
    assert study.run("2021-06-05T12:00:00Z") == 0
    assert _old_days_sent(study) == [NAME.format(1, 5)]
    assert _column(study, NAME.format(1, 5), "B2_14_TEXT") == GUARDED
    assert _manifest(study)["cells_guarded_formula"] == 4
    on, _ = _corrections(study)  # newest first
    assert on["days"] == "2021-06-01"
    assert "spreadsheet formula guard (a leading ' before = + - @) turned on" in on["message"]
    # settled: the next night re-renders and re-issues nothing
    assert study.run("2021-06-06T12:00:00Z") == 0
    assert _old_days_sent(study) == [] and len(_corrections(study)) == 2


def test_an_upgrade_reissues_only_the_days_with_formulas(study, monkeypatch):
    """A deployment of the version before the guard (its render key without the setting, no
    guard) upgraded: every day is rendered again once, only 06-01's bytes change."""
    old_parts = tuple(p for p in settings.RENDER_PARTS if p != "guard_formulas")
    new_settings = render.render_settings

    def old_settings(*args, **kwargs):
        return {k: v for k, v in new_settings(*args, **kwargs).items() if k != "guard_formulas"}

    with monkeypatch.context() as old:
        old.setattr(render, "RENDER_PARTS", old_parts)
        old.setattr(days, "RENDER_PARTS", old_parts)
        old.setattr(render, "render_settings", old_settings)
        old.setattr(output, "guard_formulas", lambda values: (values, 0))
        assert study.run("2021-06-03T12:00:00Z") == 0
    assert _column(study, NAME.format(1, 3), "B2_14_TEXT") == AS_IS
    assert study.run("2021-06-04T12:00:00Z") == 0
    assert _old_days_sent(study) == [NAME.format(1, 4)]  # 06-02: the same bytes, not re-sent
    assert _column(study, NAME.format(1, 4), "B2_14_TEXT") == GUARDED
    assert _manifest(study)["reissued_settings_changed"] == ["2021-06-01"]
    [entry] = _corrections(study)
    assert entry["days"] == "2021-06-01"
    assert "spreadsheet formula guard (a leading ' before = + - @) turned on" in entry["message"]
