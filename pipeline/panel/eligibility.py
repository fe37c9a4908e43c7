"""Eligibility of panel responses (SPEC §3.3): every failure gets a reason, first failing rule wins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import PanelRules
from pipeline.numbers import numeric_values
from pipeline.panel.columns import question_columns
from pipeline.panel.qualtrics import SURVEY, TOKEN
from pipeline.staging import as_table

# In rule order; a response is counted under the first rule it fails.
REASONS = (
    "no_age_consent",
    "no_token",
    "preview",
    "no_survey_id",
    "too_few_answers",
    "outside_us",
)

US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)
_US_STATES = pa.array(sorted(US_STATES), pa.string())


def _text(table: pa.Table, name: str) -> pa.Array:
    """A column as trimmed strings (all null when the export lacks it)."""
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return pc.utf8_trim_whitespace(table.column(name).combine_chunks().cast(pa.string()))


def _mask(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def answered_counts(
    frame: pd.DataFrame | pa.Table, rules: PanelRules, enough: int | None = None
) -> np.ndarray:
    """Number of answered questions per row (numeric items count only when they parse).

    With ``enough``, counting may stop at that number: numeric items (a regex each) are
    parsed only for rows that the plain answers leave short of it.
    """
    table = as_table(frame)
    numeric = set(rules.numeric_items)
    columns = question_columns(table.column_names, rules.consent_column)
    total = np.zeros(table.num_rows, dtype="int32")
    for col in columns:
        if col not in numeric:
            total += _mask(pc.is_valid(table.column(col)).combine_chunks())
    short = np.arange(table.num_rows) if enough is None else np.flatnonzero(total < enough)
    for col in columns:
        if col in numeric and len(short):
            values = table.column(col)
            if len(short) < table.num_rows:
                values = values.take(pa.array(short))
            total[short] += ~np.isnan(numeric_values(values))
    return total


def exclusion_reasons(frame: pd.DataFrame | pa.Table, rules: PanelRules) -> pd.Series:
    """The first failed rule per row (a value of :data:`REASONS`), or NA when eligible."""
    table = as_table(frame)
    token = _text(table, TOKEN)
    checks = [
        ("no_age_consent", ~_mask(pc.equal(_text(table, rules.consent_column),
                                           rules.consent_value))),
        ("no_token", ~_mask(pc.not_equal(token, ""))),
        ("preview", _mask(pc.equal(pc.utf8_lower(_text(table, "DistributionChannel")),
                                   "preview"))),
        ("no_survey_id", ~_mask(pc.is_valid(table.column(SURVEY)).combine_chunks())),
        ("too_few_answers",
         answered_counts(table, rules, enough=rules.min_answers) < rules.min_answers),
    ]  # fmt: skip
    if rules.require_us_state:
        state = pc.utf8_upper(_text(table, rules.state_column))
        checks.append(("outside_us", ~_mask(pc.is_in(state, value_set=_US_STATES))))
    reason = np.full(table.num_rows, None, dtype=object)
    for name, failed in reversed(checks):  # reversed so the first rule's reason wins
        reason[failed] = name
    index = frame.index if isinstance(frame, pd.DataFrame) else None
    return pd.Series(reason, index=index, dtype="string")


def count_reasons(reasons: pd.Series) -> dict[str, int]:
    """Exclusions per reason, every reason present (zero when none)."""
    counts = reasons.value_counts()
    return {r: int(counts.get(r, 0)) for r in REASONS}
