"""Earliest-start collision resolution per token (SPEC §3.4) and weight eligibility (§3.5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.days import cutoff_epochs, for_dates
from pipeline.panel.qualtrics import RECORDED, START, SURVEY, TOKEN

ORDER = [START, RECORDED, "ResponseId"]


def first_positions(frame: pd.DataFrame, by: list[str], group: str, keep: str) -> np.ndarray:
    """Row positions of the first (``keep="first"``) or last row per ``group`` in ``by``
    order, ties broken by row order; returned sorted. Only key columns are sorted (Arrow's
    sort is several times faster than pandas' on strings); the caller takes wide rows once."""
    n = len(frame)
    columns = {c: pa.array(frame[c], from_pandas=True) for c in by}
    columns["_row"] = pa.array(np.arange(n))
    direction = "ascending" if keep == "first" else "descending"
    keys = [(group, "ascending")] + [(c, direction) for c in [*by, "_row"] if c != group]
    order = pc.sort_indices(pa.table(columns), sort_keys=keys).to_numpy()
    groups = pc.take(columns[group], pa.array(order))
    starts = np.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = np.asarray(pc.not_equal(groups.slice(1), groups.slice(0, n - 1)))
    return np.sort(order[starts])


def dedupe_positions(frame: pd.DataFrame) -> np.ndarray:
    """Positions of one copy per ResponseId: the most recently recorded (ties: the later row)."""
    if not frame["ResponseId"].duplicated().any():
        return np.arange(len(frame))
    return first_positions(frame, ["ResponseId", RECORDED], "ResponseId", "last")


def dedupe_responses(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`dedupe_positions`."""
    pos = dedupe_positions(frame)
    return frame if len(pos) == len(frame) else frame.take(pos)


def candidate_mask(frame: pd.DataFrame) -> np.ndarray:
    """Responses that take part in collisions: a non-empty token and a SurveyID."""
    token = frame[TOKEN].str.strip()
    return ((token.notna() & (token != "")).fillna(False) & frame[SURVEY].notna()).to_numpy()


def candidates(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`candidate_mask`."""
    mask = candidate_mask(frame)
    return frame if mask.all() else frame[mask]


def earliest_per_token(frame: pd.DataFrame) -> pd.DataFrame:
    """The winning response of every token: earliest start, then recorded, then ResponseId."""
    return frame.take(first_positions(frame, [TOKEN, *ORDER], TOKEN, "first"))


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
