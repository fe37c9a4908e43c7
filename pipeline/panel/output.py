"""Published values of panel responses (SPEC §3.6): column set and value formats.

Day stores keep responses as parsed; every value is formatted here, when a day is
rendered (SPEC §3.6 "Rules reach every day"), column by column with Arrow kernels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import PanelRules
from pipeline.numbers import NUMBER, numeric_values
from pipeline.panel.columns import LEADING, TRAILING, question_columns
from pipeline.panel.qualtrics import END, RECORDED, START, TOKEN, WAVE
from pipeline.textbytes import byte_set, may_contain

ZIP_COLUMN = "A3"
WHOLE_NUMBER_COLUMNS = ("A2",)
MIN_ZIP_POPULATION = 100
NULL = pa.scalar(None, pa.string())


def _arrow(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A pandas string column as an Arrow string array (zero-copy for Arrow-backed data)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if isinstance(values, pa.Array):
        return values
    return pa.array(values.astype("string"), from_pandas=True, type=pa.string())


def local_timestamps(epoch: np.ndarray, timezone: str) -> pa.Array:
    """Epoch seconds → ``YYYY-MM-DD HH:MM:SS`` strings in ``timezone`` (missing → null)."""
    epoch = np.asarray(epoch, dtype="int64")
    missing = epoch == np.iinfo(np.int64).min
    utc = pa.array(epoch, mask=missing if missing.any() else None).cast(pa.timestamp("s", "UTC"))
    return pc.local_timestamp(utc.cast(pa.timestamp("s", timezone))).cast(pa.string())


def format_number(values: pd.Series | pa.Array, whole_only: bool = False) -> pa.Array:
    """A numeric item: a number (``3``, ``2.5``) or null when it does not parse."""
    arr = numeric_values(values)
    bad = ~np.isfinite(arr)
    if whole_only:
        bad |= np.isfinite(arr) & (np.floor(arr) != arr)
    arr = np.where(bad, np.nan, arr + 0.0)  # +0.0 turns -0.0 into 0.0
    return pa.array(arr, from_pandas=True).cast(pa.string())


_ASCII_SPACE = byte_set(b" \t\n\v\f\r")


def _needs_squash(arr: pa.Array) -> bool:
    """Whether any value has whitespace to squash or trim. Most columns hold codes only
    (letters and digits), which a byte scan or a character-class kernel rules out before
    any regex (which only knows ASCII whitespace)."""
    if not may_contain(arr, _ASCII_SPACE):
        return False
    if pc.all(pc.fill_null(pc.utf8_is_alnum(arr), True)).as_py():
        return False
    return bool(pc.any(pc.match_substring_regex(arr, r"\s\s|^\s|\s$|[\t\r\n]")).as_py())


def format_text(values: pd.Series | pa.Array) -> pa.Array:
    """Runs of whitespace squashed to one space, trimmed; empty becomes null."""
    arr = _arrow(values)
    if _needs_squash(arr):
        arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))
        arr = pc.if_else(pc.equal(arr, ""), NULL, arr)
    return arr


# A text cell a spreadsheet would run as a formula (OWASP, "CSV Injection"): one starting with
# = + - or @, also behind leading invisible characters that trimming keeps (a no-break or a
# zero-width space, a vertical tab), and one starting with a tab or a carriage return (none
# does once format_text trimmed and squashed it: listed by OWASP, matched for safety).
FORMULA_START = r"^[\pZ\pC]*[=+\-@]|^[\t\r]"
_FORMULA_BYTES = byte_set(b"=+-@\t\r")
FORMULA_GUARD = "'"


def guard_formulas(values: pa.Array) -> tuple[pa.Array, int]:
    """Formatted text with every cell a spreadsheet would run as a formula prefixed with an
    apostrophe (OWASP's advice), and how many were. A number (``-1``, ``+2.5``, ``-.5``,
    :data:`pipeline.numbers.NUMBER`) stays as it is; so does a cell that already starts with
    an apostrophe: a guard is never removed, nor doubled. Null stays null."""
    if not may_contain(values, _FORMULA_BYTES):  # most columns: codes, plain text
        return values, 0
    live = pc.and_not(
        pc.match_substring_regex(values, FORMULA_START), pc.match_substring_regex(values, NUMBER)
    )
    live = pc.fill_null(live, False)
    count = int(pc.sum(live).as_py() or 0)
    if not count:
        return values, 0
    return pc.if_else(live, pc.utf8_replace_slice(values, 0, 0, FORMULA_GUARD), values), count


def is_free_text(column: str, rules: PanelRules) -> bool:
    """Whether a question column is published as text that may hold a formula, so guarded
    (not a numeric item, not the ZIP code). Code lists (``4,5``) hold digits and commas: a
    spreadsheet never runs them, the guard never changes them."""
    return column not in rules.numeric_items and column != ZIP_COLUMN


def format_zip(values: pd.Series | pa.Array, populations: dict[str, int] | None) -> pa.Array:
    """ZIP codes with more than 5 digits, or of an area under 100 people, become null."""
    text = format_text(values)
    out = pc.if_else(_over_five_digits(text), NULL, text)
    if populations:
        small = sorted(z for z, n in populations.items() if n < MIN_ZIP_POPULATION)
        sparse = pa.array(small, pa.string())  # typed: the table may have no small area
        hit = pc.fill_null(pc.is_in(pc.utf8_slice_codeunits(out, 0, 5), value_set=sparse), False)
        out = pc.if_else(hit, NULL, out)
    return out


def _over_five_digits(text: pa.Array) -> pa.Array:
    """Whether each value holds more than five ASCII digits (False for null). Only values
    over five bytes can: the digit-counting regex (35x slower) runs on those alone."""
    longer = pc.fill_null(pc.greater(pc.binary_length(text), 5), False)
    digits = pc.count_substring_regex(text.filter(longer), r"\d")
    return pc.replace_with_mask(
        pa.array(np.zeros(len(text), dtype=bool)), longer, pc.greater(digits, 5)
    )


def store_columns(columns: list[str], rules: PanelRules) -> list[str]:
    """The columns of a normalized batch that a day store keeps of each winning response,
    given the export's own ``columns``: the derived keys, the questions, ``UserLanguage``.
    Values are kept as parsed; :func:`day_table` formats them."""
    keys = [TOKEN, "ResponseId", START, RECORDED, END, WAVE]
    extra = ["UserLanguage"] if "UserLanguage" in columns else []
    return list(dict.fromkeys([*keys, *question_columns(columns, rules.consent_column), *extra]))


def published_columns(questions: list[str]) -> list[str]:
    """The header of every daily and cumulative file."""
    return [*LEADING, *questions, *TRAILING]


def format_values(
    rows: pa.Table,
    questions: list[str],
    rules: PanelRules,
    timezone: str,
    zip_population: dict[str, int] | None = None,
) -> tuple[dict[str, pa.Array], int]:
    """Published values (strings, missing = null) of stored responses, by published column,
    and how many free-text cells :func:`guard_formulas` prefixed (with
    ``rules.guard_formulas``). Questions the rows lack (another wave's) are absent."""
    numeric = set(rules.numeric_items)
    guarded = 0
    names = set(rows.column_names)

    def raw(name: str) -> pa.Array:
        return _arrow(rows.column(name))

    def epochs(name: str) -> np.ndarray:  # missing → int64 min, as local_timestamps expects
        values = pc.fill_null(raw(name), np.iinfo(np.int64).min)
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype="int64")

    out: dict[str, pa.Array] = {
        "StartDatetime": local_timestamps(epochs(START), timezone),
        "EndDatetime": local_timestamps(epochs(END), timezone),
    }
    for col in (c for c in questions if c in names):
        if col in numeric:
            out[col] = format_number(raw(col), whole_only=col in WHOLE_NUMBER_COLUMNS)
        elif col == ZIP_COLUMN:
            out[col] = format_zip(raw(col), zip_population)
        elif rules.guard_formulas:  # free text (is_free_text)
            out[col], count = guard_formulas(format_text(raw(col)))
            guarded += count
        else:
            out[col] = format_text(raw(col))
    out["wave"] = _arrow(pc.cast(raw(WAVE), pa.string()))
    lang = format_text(raw("UserLanguage")) if "UserLanguage" in names else None
    out["UserLanguage"] = lang if lang is not None else pa.nulls(rows.num_rows, pa.string())
    return out, guarded


PUBLICATION_ORDER = [(START, "ascending"), (RECORDED, "ascending"), ("ResponseId", "ascending")]


def publication_order(rows: pa.Table, keep: pa.Array | None = None) -> np.ndarray | None:
    """The positions of the ``keep`` rows (all when None) of stored responses in the order
    they are published (by start, recorded, ResponseId); None when that is every row in
    the order it is in (often so)."""
    if keep is None:
        positions = np.arange(rows.num_rows)
    else:  # a null is not kept (as in Table.filter)
        positions = np.flatnonzero(pc.fill_null(keep, False).to_numpy(zero_copy_only=False))
    keys = rows.select([k for k, _ in PUBLICATION_ORDER])
    if len(positions) != rows.num_rows:
        keys = keys.take(pa.array(positions))
    order = pc.sort_indices(keys, sort_keys=PUBLICATION_ORDER).to_numpy()
    positions = positions[order]
    if np.array_equal(positions, np.arange(rows.num_rows)):
        return None
    return positions


def in_publication_order(rows: pa.Table) -> pa.Table:
    """Stored responses in the order they are published (:func:`publication_order`)."""
    positions = publication_order(rows)
    return rows if positions is None else rows.take(pa.array(positions))


def day_table(
    rows: pa.Table,
    questions: list[str],
    weights: pa.Table | None,
    rules: PanelRules,
    timezone: str,
    zip_population: dict[str, int] | None = None,
) -> tuple[pa.Table, int]:
    """A day's published table from its stored responses: every value formatted, union
    columns (null where absent), ``weight`` joined by token; with ``rules.guard_formulas``,
    free text a spreadsheet would run as a formula prefixed (:func:`guard_formulas`). Also
    returns how many cells were prefixed.

    Rows are sorted by start (then recorded, then ResponseId). The last column, ``_token``,
    is not published: it lets checks see respondents."""
    rows = in_publication_order(rows)
    n = rows.num_rows
    values, guarded = format_values(rows, questions, rules, timezone, zip_population)
    cols: dict[str, pa.Array] = {}
    for name in published_columns(questions):
        cols[name] = values[name] if name in values else pa.nulls(n, pa.string())
    tokens = _arrow(rows.column(TOKEN)).cast(pa.string())
    if weights is not None:
        idx = pc.index_in(tokens, value_set=weights.column("cid").combine_chunks())
        cols["weight"] = pc.take(weights.column("weight"), idx)
    cols["_token"] = tokens
    return pa.table(cols), guarded
