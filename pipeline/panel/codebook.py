"""codebook.csv: variable, question text (row 2 of the exports), type, waves present."""

from __future__ import annotations

import pandas as pd

from pipeline.config import PanelRules
from pipeline.csvfmt import to_csv_bytes
from pipeline.fetching import Layout
from pipeline.panel.columns import LEADING, TRAILING
from pipeline.panel.output import WHOLE_NUMBER_COLUMNS, ZIP_COLUMN, is_free_text

FIXED = {
    "StartDatetime": ("Start of the response (study time zone, YYYY-MM-DD HH:MM:SS)", "datetime"),
    "EndDatetime": ("End of the response (study time zone, YYYY-MM-DD HH:MM:SS)", "datetime"),
    "wave": ("Survey wave (from SurveyID); NA when the survey is unknown", "integer"),
    "UserLanguage": ("Language the survey was taken in", "text"),
    "weight": ("Survey weight of the respondent (NA when no weights are configured)", "numeric"),
}
# Said of free text when rules.guard_formulas is on (pipeline.panel.output.guard_formulas).
FORMULA_NOTE = (
    "; a value a spreadsheet would run as a formula (starting with = + - or @; not a number)"
    " is published with a leading ' (apostrophe)"
)


def _type(col: str, question: str, rules: PanelRules) -> str:
    kind = _kind(col, question, rules)
    if rules.guard_formulas and is_free_text(col, rules) and not kind.startswith("multi-select"):
        kind += FORMULA_NOTE
    return kind


def _kind(col: str, question: str, rules: PanelRules) -> str:
    if col in WHOLE_NUMBER_COLUMNS:
        return "integer"
    if col in rules.numeric_items:
        return "numeric"
    if col == ZIP_COLUMN:
        return "text (ZIP code; NA when longer than 5 digits or sparsely populated)"
    if col.endswith("_TEXT"):
        return "text"
    if "select all that apply" in question.lower():
        return "multi-select (comma-separated codes)"
    return "categorical (code) or text"


def render(questions: list[str], layouts: list[Layout], rules: PanelRules) -> bytes:
    """The codebook for the published columns, questions from the lowest wave that has them."""
    ordered = sorted(layouts, key=lambda lay: (lay.key, lay.columns))
    rows = []
    for col in [*LEADING, *questions, *TRAILING]:
        if col in FIXED:
            text, kind = FIXED[col]
            waves = ""
        else:
            having = [lay for lay in ordered if col in lay.columns]
            text = next((lay.questions.get(col, "") for lay in having), "")
            kind = _type(col, text, rules)
            wave_set = sorted({w for lay in having for w in lay.waves if w is not None})
            waves = ";".join(str(w) for w in wave_set)
        rows.append(
            {"variable": col, "question": " ".join(text.split()), "type": kind, "waves": waves}
        )
    return to_csv_bytes(pd.DataFrame(rows, columns=["variable", "question", "type", "waves"]))
