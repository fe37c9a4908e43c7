"""codebook.csv (SPEC §3.6, issue 29 item 3): plain question texts, a precise type for every
column from a fixed vocabulary (the Parquet copies' types), descriptions that follow the
configuration."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline.config import PanelRules
from pipeline.fetching import Layout
from pipeline.panel import codebook
from pipeline.panel.columns import question_columns
from pipeline.panel.output import published_columns
from pipeline.panel.qualtrics import parse_export
from pipeline.panel.synth import SURVEY_IDS, layout

FIXTURE = Path(__file__).parents[1] / "data" / "qualtrics_export_sample.csv"
TERMS = {"integer", "number", "text", "multi-select code list (text)", "ZIP code (text)"}


def _fixture_layout() -> Layout:
    parsed = parse_export(FIXTURE.read_bytes(), FIXTURE.name, {v: k for k, v in SURVEY_IDS.items()})
    return Layout(2.0, (2,), tuple(question_columns(parsed.columns)), parsed.questions)


def _synth_layouts() -> list[Layout]:
    """The three waves of the synthetic panel (wave 3 adds B8, C13, C14)."""
    out = []
    for wave in (1, 2, 3):
        cols = layout(wave)
        names = [c[0] for c in cols]
        out.append(Layout(float(wave), (wave,), tuple(question_columns(names)),
                          {c[0]: c[2] for c in cols}))  # fmt: skip
    return out


def _rows(data: bytes) -> dict[str, dict[str, str]]:
    return {r["variable"]: r for r in csv.DictReader(io.StringIO(data.decode("utf-8")))}


def _term_ok(term: str, zone: str = "America/Los_Angeles") -> bool:
    return term in TERMS or term == f"date-time ({zone})"


# --- question texts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("How many (including&nbspyourself) are sick?", "How many (including yourself) are sick?"),
        ("a&nbsp;b &amp; c&#39;s &quot;d&quot;", 'a b & c\'s "d"'),
        ("<div>First line<br/>second</div><p>Third</p>", "First line second Third"),
        ("Did you <strong>not</strong>, or <span style='x'>did</span> you?",
         "Did you not, or did you?"),
        ("&lt;b&gt; is shown as text", "<b> is shown as text"),  # an escaped tag stays
        ("a temperature < 100 and > 97", "a temperature < 100 and > 97"),
        ("<!-- hidden -->  two\n lines\t here ", "two lines here"),
        ("R&D costs", "R&D costs"),
    ],
)  # fmt: skip
def test_question_texts_are_plain_text(raw, plain):
    assert codebook.plain_text(raw) == plain


def test_the_fixture_questions_have_no_html_left():
    rows = _rows(codebook.render(["A2", "B2", "C1"], [_fixture_layout()], PanelRules()))
    assert rows["A2"]["question"].startswith("How many people in your household (including "
                                             "yourself) are sick")  # fmt: skip
    for row in rows.values():
        q = row["question"]
        assert "&" not in q and "<" not in q and "\u00a0" not in q and "  " not in q, q
        assert q == q.strip()


# --- types ------------------------------------------------------------------------------------


def test_every_column_has_a_type_of_the_vocabulary():
    layouts = _synth_layouts()
    questions = list(dict.fromkeys(c for lay in layouts for c in lay.columns))
    rows = _rows(codebook.render(questions, layouts, PanelRules()))
    assert list(rows) == published_columns(questions)
    for name, row in rows.items():
        term = codebook.base_type(row["type"])
        assert _term_ok(term), (name, row["type"])
        assert "categorical" not in row["type"] and " or " not in term
        codebook.arrow_type(row["type"])  # every term has its Arrow type


def test_types_by_column():
    layouts = _synth_layouts()
    questions = list(dict.fromkeys(c for lay in layouts for c in lay.columns))
    types = codebook.column_types(questions, layouts, PanelRules())
    assert list(types) == published_columns(questions)
    expect = {
        "StartDatetime": "date-time (America/Los_Angeles)",
        "EndDatetime": "date-time (America/Los_Angeles)",
        "A1_1": "integer", "B5": "integer", "C7": "integer", "A3b": "integer", "D2": "integer",
        "Q36": "integer", "B8": "integer", "C14": "integer",  # single choice: a code
        "A2": "number",  # a numeric item, published only as a whole number
        "A2b": "number", "Q40": "number", "C10_1_1": "number", "D5": "number",
        "A3": "ZIP code (text)",
        "B2": "multi-select code list (text)", "C1": "multi-select code list (text)",
        "C13": "multi-select code list (text)",
        "B2_14_TEXT": "text", "D1_4_TEXT": "text",
        "A4": "text",  # not among rules.numeric_items: published as typed
        "wave": "integer", "UserLanguage": "text", "weight": "number",
    }  # fmt: skip
    assert {c: types[c] for c in expect} == expect


def test_types_follow_the_configuration():
    layouts = [_fixture_layout()]
    rules = PanelRules(numeric_items=["A2b", "A4"])
    types = codebook.column_types(["A2", "A2b", "A4"], layouts, rules, "Europe/Berlin")
    assert types["A2"] == "text"  # not checked as a number: published as typed
    assert types["A2b"] == types["A4"] == "number"
    assert types["StartDatetime"] == types["EndDatetime"] == "date-time (Europe/Berlin)"
    rows = _rows(codebook.render(["A2", "A4"], layouts, rules, timezone="Europe/Berlin"))
    assert rows["A4"]["type"] == "number"
    assert rows["A2"]["type"].startswith("text; a number as the respondent typed it")
    assert "Europe/Berlin" in rows["StartDatetime"]["question"]


def test_other_columns_are_text_and_select_all_marks_a_code_list():
    lay = Layout(
        2.0,
        (2,),
        ("Z9", "Q99"),
        {"Z9": "Anything else?", "Q99": "Which ones? (Select all that apply)"},
    )
    types = codebook.column_types(["Z9", "Q99"], [lay], PanelRules())
    assert types["Z9"] == "text" and types["Q99"] == "multi-select code list (text)"


def test_types_do_not_depend_on_question_texts_being_there():
    """The Parquet schema reads the same types with or without the layouts (a text only ever
    turns text into a code list: the same Arrow type)."""
    layouts = _synth_layouts()
    questions = list(dict.fromkeys(c for lay in layouts for c in lay.columns))
    with_texts = codebook.column_types(questions, layouts, PanelRules())
    without = codebook.column_types(questions, [], PanelRules())
    assert {c: codebook.arrow_type(t) for c, t in with_texts.items()} == {
        c: codebook.arrow_type(t) for c, t in without.items()
    }


def test_arrow_types():
    assert codebook.arrow_type("integer") == pa.int64()
    assert codebook.arrow_type("number") == pa.float64()
    for term in ("text", "multi-select code list (text)", "ZIP code (text)"):
        assert codebook.arrow_type(term) == pa.string()
    assert codebook.arrow_type("date-time (America/Los_Angeles)") == pa.timestamp(
        "ms", tz="America/Los_Angeles"
    )
    assert codebook.arrow_type("ZIP code (text); NA when longer than 5 digits") == pa.string()
    for bad in ("categorical (code) or text", "datetime", "numeric", ""):
        with pytest.raises(ValueError, match="not a codebook type"):
            codebook.arrow_type(bad)


# --- descriptions follow the configuration ----------------------------------------------------


def test_the_zip_description_names_the_population_table_only_when_configured():
    layouts = [_fixture_layout()]
    without = _rows(codebook.render(["A3"], layouts, PanelRules()))["A3"]["type"]
    with_table = _rows(codebook.render(["A3"], layouts, PanelRules(), zip_table=True))["A3"]
    assert without.startswith("ZIP code (text); ") and "longer than 5 digits" in without
    assert "population" not in without and "people" not in without
    assert with_table["type"].startswith(without)
    assert "ZIP population table" in with_table["type"] and "100 people" in with_table["type"]


def test_the_formula_note_is_on_free_text_only():
    layouts = _synth_layouts()
    questions = list(dict.fromkeys(c for lay in layouts for c in lay.columns))
    rows = _rows(codebook.render(questions, layouts, PanelRules()))
    noted = {c for c, r in rows.items() if r["type"].endswith(codebook.FORMULA_NOTE)}
    assert noted == {"A4", "B2_14_TEXT", "D1_4_TEXT"}
    off = _rows(codebook.render(questions, layouts, PanelRules(guard_formulas=False)))
    assert not any(codebook.FORMULA_NOTE in r["type"] for r in off.values())


def test_the_weight_description_follows_the_configuration():
    def weight(**kw) -> str:
        return _rows(codebook.render([], [], PanelRules(), **kw))["weight"]["question"]

    assert "no weights are configured" in weight(weights=False)
    assert "weighting partner" in weight(weights=True)
    assert "configured" in weight()


def test_waves_present():
    layouts = _synth_layouts()
    rows = _rows(codebook.render(["A1_1", "A2b", "B8"], layouts, PanelRules()))
    assert rows["A1_1"]["waves"] == "1;2;3"
    assert rows["A2b"]["waves"] == "2;3"
    assert rows["B8"]["waves"] == "3"
    assert rows["wave"]["waves"] == ""
