"""Eligibility of panel responses (SPEC §3.3): every failure gets a reason, first failing rule wins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import PanelRules
from pipeline.numbers import numeric_values
from pipeline.panel.columns import question_columns
from pipeline.panel.qualtrics import SURVEY, TOKEN

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


def answered_counts(
    frame: pd.DataFrame, rules: PanelRules, enough: int | None = None
) -> np.ndarray:
    """Number of answered questions per row (numeric items count only when they parse).

    With ``enough``, counting may stop at that number: numeric items (a regex each) are
    parsed only for rows that the plain answers leave short of it.
    """
    numeric = set(rules.numeric_items)
    columns = question_columns(list(frame.columns), rules.consent_column)
    total = np.zeros(len(frame), dtype="int32")
    for col in columns:
        if col not in numeric:
            total += frame[col].notna().to_numpy()
    short = np.arange(len(frame)) if enough is None else np.flatnonzero(total < enough)
    for col in columns:
        if col in numeric and len(short):
            values = frame[col].iloc[short] if len(short) < len(frame) else frame[col]
            total[short] += ~np.isnan(numeric_values(values))
    return total


def exclusion_reasons(frame: pd.DataFrame, rules: PanelRules) -> pd.Series:
    """The first failed rule per row (a value of :data:`REASONS`), or NA when eligible."""
    n = len(frame)
    na = pd.Series(pd.NA, index=frame.index, dtype="string")
    consent = frame[rules.consent_column] if rules.consent_column in frame else na
    channel = frame["DistributionChannel"] if "DistributionChannel" in frame else na
    checks = [
        ("no_age_consent", ~(consent.str.strip() == rules.consent_value).fillna(False)),
        ("no_token", frame[TOKEN].isna() | (frame[TOKEN].str.strip() == "").fillna(False)),
        ("preview", (channel.str.strip().str.lower() == "preview").fillna(False)),
        ("no_survey_id", frame[SURVEY].isna()),
        (
            "too_few_answers",
            pd.Series(
                answered_counts(frame, rules, enough=rules.min_answers) < rules.min_answers,
                index=frame.index,
            ),
        ),
    ]
    if rules.require_us_state:
        state = frame[rules.state_column] if rules.state_column in frame else na
        checks.append(("outside_us", ~state.str.strip().str.upper().isin(US_STATES).fillna(False)))
    reason = np.full(n, None, dtype=object)
    for name, failed in reversed(checks):  # reversed so the first rule's reason wins
        reason[np.asarray(failed, dtype=bool)] = name
    return pd.Series(reason, index=frame.index, dtype="string")


def count_reasons(reasons: pd.Series) -> dict[str, int]:
    """Exclusions per reason, every reason present (zero when none)."""
    counts = reasons.value_counts()
    return {r: int(counts.get(r, 0)) for r in REASONS}
