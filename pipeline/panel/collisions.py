"""Earliest-start collision resolution per token (SPEC §3.4) and weight eligibility (§3.5)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.days import cutoff_epochs, for_dates
from pipeline.panel.qualtrics import RECORDED, START, SURVEY, TOKEN

ORDER = [START, RECORDED, "ResponseId"]


def dedupe_responses(frame: pd.DataFrame) -> pd.DataFrame:
    """One copy per ResponseId: the most recently recorded (ties: the later row)."""
    ordered = frame.sort_values(["ResponseId", RECORDED], kind="stable")
    return ordered.drop_duplicates("ResponseId", keep="last")


def candidates(frame: pd.DataFrame) -> pd.DataFrame:
    """Responses that take part in collisions: a non-empty token and a SurveyID."""
    token = frame[TOKEN].str.strip()
    return frame[(token.notna() & (token != "")).fillna(False) & frame[SURVEY].notna()]


def earliest_per_token(frame: pd.DataFrame) -> pd.DataFrame:
    """The winning response of every token: earliest start, then recorded, then ResponseId."""
    ordered = frame.sort_values([TOKEN, *ORDER], kind="stable")
    return ordered.drop_duplicates(TOKEN, keep="first")


def on_time_days(frame: pd.DataFrame, timezone: str, cutoff_hour: int) -> pd.Series:
    """Per token, the earliest `for` day (as datetime64[D]) of a response recorded by that
    day's cut-off; tokens with no such response are absent."""
    days = for_dates(frame[START].to_numpy(), timezone)
    cut = cutoff_epochs(days, timezone, cutoff_hour)
    on_time = frame[RECORDED].to_numpy() <= cut
    if not on_time.any():
        return pd.Series(dtype="datetime64[s]")
    sub = pd.DataFrame({TOKEN: frame[TOKEN].to_numpy()[on_time], "day": days[on_time]})
    return sub.groupby(TOKEN)["day"].min()


def beats(a_start: np.ndarray, a_rec: np.ndarray, a_id: np.ndarray,
          b_start: np.ndarray, b_rec: np.ndarray, b_id: np.ndarray) -> np.ndarray:  # fmt: skip
    """Element-wise: does response a start before response b (ties: recorded, then id)?"""
    return (a_start < b_start) | (
        (a_start == b_start) & ((a_rec < b_rec) | ((a_rec == b_rec) & (a_id < b_id)))
    )
