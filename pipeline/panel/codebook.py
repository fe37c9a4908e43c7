"""codebook.csv (SPEC §3.6): variable, question text, type, waves present.

The question text is row 2 of the exports (the lowest wave that has the column) as plain
text: HTML tags removed, entities decoded (also the ``&nbsp`` without its semicolon that
real exports hold), a no-break space read as a space, whitespace squashed.

The type column starts with one term of a fixed vocabulary, the same that types the Parquet
copies (:func:`arrow_type`); a ``"; "`` and a note on the published values may follow it
(the ZIP code's privacy rules, the spreadsheet formula guard of free text):

``integer``
    a whole number: single-choice answer codes of the survey (``1``, ``2``), ``wave``.
``number``
    a number (``2.5``): the numeric open-ended items of ``rules.numeric_items`` (``A2``
    among them, published only when whole: ``3`` or ``3.0``), ``weight``.
``text``
    text: "other, please specify" answers (``*_TEXT``), ``UserLanguage``, and any column
    the survey's types below do not name (a column of another questionnaire, or a numeric
    item the configuration does not check as a number, such as ``A4`` by default).
``multi-select code list (text)``
    the codes of the options chosen, comma-separated (``7,10``): read as text, never as a
    number.
``ZIP code (text)``
    ``A3``, five digits read as text (leading zeros matter).
``date-time (<zone>)``
    ``YYYY-MM-DD HH:MM:SS``, local time in the study's time zone (``date-time
    (America/Los_Angeles)``).

A type is decided by the column's name and the configuration (never by the values, so a
column keeps its type from day to day): numeric items and the ZIP column as the pipeline
publishes them, then the survey's own kinds of question (its single- and multi-select
items, as Qualtrics exports them and the survey's R helper reads them), then text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

from pipeline.config import DEFAULT_NUMERIC_ITEMS, DEFAULT_TIMEZONE, PanelRules
from pipeline.csvfmt import to_csv_bytes
from pipeline.fetching import Layout
from pipeline.panel.columns import LEADING, TRAILING
from pipeline.panel.output import (
    MIN_ZIP_POPULATION,
    WHOLE_NUMBER_COLUMNS,
    ZIP_COLUMN,
    is_free_text,
)

# The vocabulary of the type column.
INTEGER = "integer"
NUMBER = "number"
TEXT = "text"
MULTI_SELECT = "multi-select code list (text)"
ZIP_CODE = "ZIP code (text)"
DATE_TIME = "date-time"  # always with its zone: date_time(zone)

# The survey's single-choice questions (one answer code each; Qualtrics exports the code).
SINGLE_CHOICE = frozenset(
    {
        "A1_1", "A1_2", "A1_3", "A1_4", "A1_5", "A3b", "B3", "B4", "B5", "B6", "B8", "C2",
        "C3", "C4", "C5", "C6", "C7", "C8_1", "C8_2", "C9", "C11", "C12", "C14", "D1", "D1b",
        "D2", "Q36",
    }
)  # fmt: skip
# The survey's multi-select questions (the survey's R helper reads them as text); a question
# text saying "select all that apply" marks one too.
MULTI_SELECT_ITEMS = frozenset({"B2", "B2c", "B7", "B10b", "B12a", "C1", "C13", "C13a"})
_SELECT_ALL = re.compile(r"select all that apply", re.IGNORECASE)

FIXED = {
    "StartDatetime": "Start of the response, local time in {zone} (YYYY-MM-DD HH:MM:SS)",
    "EndDatetime": "End of the response, local time in {zone} (YYYY-MM-DD HH:MM:SS); NA when "
    "the export has none",
    "wave": "Survey wave (from SurveyID); NA when the survey is unknown",
    "UserLanguage": "Language the survey was taken in",
}
WEIGHT_TEXT = {
    None: "Survey weight of the respondent; NA when it has none (or no weights are configured)",
    True: "Survey weight of the respondent, from the weighting partner's files; NA when none "
    "was received for the respondent",
    False: "Survey weight of the respondent; NA: no weights are configured for this study",
}
# Said of free text when rules.guard_formulas is on (pipeline.panel.output.guard_formulas).
FORMULA_NOTE = (
    "; a value a spreadsheet would run as a formula (starting with = + - or @; not a number)"
    " is published with a leading ' (apostrophe)"
)
# The survey's numeric open-ended items (its R helper reads them as numbers); one the
# configuration does not list in rules.numeric_items is published as typed, as text.
SURVEY_NUMERIC_ITEMS = frozenset({*DEFAULT_NUMERIC_ITEMS, "A4"})
UNCHECKED_NUMBER_NOTE = (
    "; a number as the respondent typed it, not checked (not among rules.numeric_items)"
)
WHOLE_NUMBER_NOTE = "; whole numbers only (3 or 3.0), otherwise NA"
ZIP_NOTE = "; NA when longer than 5 digits (privacy)"
ZIP_TABLE_NOTE = (
    f" or when its ZIP area has fewer than {MIN_ZIP_POPULATION} people (the configured ZIP"
    " population table)"
)


def date_time(zone: str) -> str:
    """The type of a local time in ``zone``: ``date-time (America/Los_Angeles)``."""
    return f"{DATE_TIME} ({zone})"


_ARROW = {
    INTEGER: pa.int64(),
    NUMBER: pa.float64(),
    TEXT: pa.string(),
    MULTI_SELECT: pa.string(),
    ZIP_CODE: pa.string(),
}
_DATE_TIME = re.compile(rf"^{DATE_TIME} \((?P<zone>[^()]+)\)$")


def base_type(codebook_type: str) -> str:
    """The vocabulary term of a codebook type column value (what precedes a ``"; "`` note)."""
    return codebook_type.split(";", 1)[0].strip()


def arrow_type(codebook_type: str) -> pa.DataType:
    """The Arrow type of a codebook type (a note after ``;`` is ignored): integer → int64,
    number → float64, text, multi-select and ZIP code → string, ``date-time (zone)`` →
    ``timestamp('ms', tz=zone)``. Raises ValueError for a term outside the vocabulary."""
    term = base_type(codebook_type)
    if term in _ARROW:
        return _ARROW[term]
    m = _DATE_TIME.match(term)
    if m:  # Parquet has no seconds unit: milliseconds, as readers of the copies see them
        return pa.timestamp("ms", tz=m.group("zone"))
    raise ValueError(f"not a codebook type: {codebook_type!r}")


def question_type(column: str, question: str, rules: PanelRules) -> str:
    """The type of a question column (its vocabulary term, no note)."""
    if column in rules.numeric_items:  # A2 too: a number, published only when whole
        return NUMBER
    if column == ZIP_COLUMN:
        return ZIP_CODE
    if column.endswith("_TEXT"):
        return TEXT
    if column in MULTI_SELECT_ITEMS or _SELECT_ALL.search(question):
        return MULTI_SELECT
    if column in SINGLE_CHOICE:
        return INTEGER
    return TEXT


def _fixed_type(column: str, timezone: str) -> str:
    if column in ("StartDatetime", "EndDatetime"):
        return date_time(timezone)
    return {"wave": INTEGER, "weight": NUMBER}.get(column, TEXT)


def _texts(questions: Sequence[str], layouts: Sequence[Layout]) -> dict[str, str]:
    """Each question's text (plain) from the lowest wave that has it."""
    ordered = sorted(layouts, key=lambda lay: (lay.key, lay.columns))
    out = {}
    for col in questions:
        raw = next((lay.questions.get(col, "") for lay in ordered if col in lay.columns), "")
        out[col] = plain_text(raw)
    return out


def column_types(
    questions: Sequence[str],
    layouts: Sequence[Layout],
    rules: PanelRules,
    timezone: str = DEFAULT_TIMEZONE,
    texts: dict[str, str] | None = None,
) -> dict[str, str]:
    """{column: vocabulary term} for the published header (leading columns, ``questions``,
    trailing columns), as the codebook types them (without notes). ``texts``: the
    questions' plain texts, when the caller has them already."""
    texts = _texts(questions, layouts) if texts is None else texts
    out = {col: _fixed_type(col, timezone) for col in LEADING}
    out.update({col: question_type(col, texts[col], rules) for col in questions})
    out.update({col: _fixed_type(col, timezone) for col in TRAILING})
    return out


# Inline tags join their neighbours ("<b>not</b>,"); any other tag separates words.
_INLINE = r"(?:a|abbr|b|big|em|font|i|mark|s|small|span|strike|strong|sub|sup|u)"
_INLINE_TAG = re.compile(rf"</?{_INLINE}(?:\s[^<>]*)?/?>", re.IGNORECASE)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>", re.DOTALL)


def plain_text(text: str) -> str:
    """A question text as plain text: HTML tags removed, entities decoded (also without
    their semicolon, ``including&nbspyourself``), whitespace (no-break spaces too)
    squashed to one space and trimmed."""
    text = _TAG.sub(" ", _INLINE_TAG.sub("", text))
    return " ".join(html.unescape(text).split())


def _note(col: str, kind: str, rules: PanelRules, zip_table: bool) -> str:
    if kind == ZIP_CODE:
        return ZIP_NOTE + (ZIP_TABLE_NOTE if zip_table else "")
    if kind == NUMBER and col in WHOLE_NUMBER_COLUMNS:
        return WHOLE_NUMBER_NOTE
    note = UNCHECKED_NUMBER_NOTE if kind == TEXT and col in SURVEY_NUMERIC_ITEMS else ""
    if kind == TEXT and rules.guard_formulas and is_free_text(col, rules):
        note += FORMULA_NOTE
    return note


def render(
    questions: list[str],
    layouts: list[Layout],
    rules: PanelRules,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    zip_table: bool = False,
    weights: bool | None = None,
    types: dict[str, str] | None = None,
) -> bytes:
    """The codebook for the published columns. ``zip_table``: a ZIP population table is
    configured; ``weights``: weights are configured (None: not said); ``types``: the
    :func:`column_types` of the same columns, when the caller has them already."""
    texts = _texts(questions, layouts)
    if types is None:
        types = column_types(questions, layouts, rules, timezone, texts)
    ordered = sorted(layouts, key=lambda lay: (lay.key, lay.columns))
    rows = []
    for col, kind in types.items():
        if col in texts:
            text = texts[col]
            wave_set = {w for lay in ordered if col in lay.columns for w in lay.waves}
            waves = ";".join(str(w) for w in sorted(w for w in wave_set if w is not None))
            kind += _note(col, kind, rules, zip_table)
        elif col == "weight":
            text, waves = WEIGHT_TEXT[weights], ""
        else:
            text, waves = FIXED[col].format(zone=timezone), ""
        rows.append({"variable": col, "question": text, "type": kind, "waves": waves})
    return to_csv_bytes(pd.DataFrame(rows, columns=["variable", "question", "type", "waves"]))
