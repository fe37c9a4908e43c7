"""Earliest-start collision resolution per token (SPEC §3.4), and each token's first on-time
day (§3.5, the rule itself in :func:`pipeline.clock.on_time`).

The rules work on Arrow arrays and NumPy (a night can bring a million responses); the
small pandas helpers at the end apply the same functions to a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.clock import for_dates, on_time
from pipeline.panel.qualtrics import RECORDED, START, SURVEY, TOKEN

Strings = pa.Array | pa.ChunkedArray


def _encoded(values: Strings) -> tuple[np.ndarray, int]:
    """Integer group codes of string values (hashing; sorting ints beats sorting strings)
    and the number of distinct non-null values."""
    if isinstance(values, pa.ChunkedArray):  # unify_dictionaries is far slower than a copy
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    return encoded.indices.to_numpy(zero_copy_only=False), len(encoded.dictionary)


def _first_of_groups(
    group: Strings,
    keys: list[tuple[Strings | np.ndarray, str]],
    codes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Row order sorted by ``group`` then ``keys`` (then row number, in the last key's
    direction), and where each group starts in it: ``(order, starts)``. ``codes``: the
    groups' codes (:func:`_encoded`), when the caller has them."""
    n = len(group)
    if codes is None:
        codes = _encoded(group)[0]
    direction = keys[-1][1] if keys else "ascending"
    columns = {"_group": pa.array(codes)}
    sort_keys = [("_group", "ascending")]
    for i, (values, how) in enumerate(keys):
        columns[f"k{i}"] = (
            values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
        )
        sort_keys.append((f"k{i}", how))
    columns["_row"] = pa.array(np.arange(n))
    sort_keys.append(("_row", direction))
    order = pc.sort_indices(pa.table(columns), sort_keys=sort_keys).to_numpy()
    sorted_codes = codes[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = sorted_codes[1:] != sorted_codes[:-1]
    return order, starts


def first_rows(table: pa.Table, key: str) -> pa.Table:
    """The first row of each value of column ``key``, in row order (e.g. the weight of
    each cid from the first weights file by name, rows being in file-name order)."""
    if not table.num_rows:
        return table
    order, starts = _first_of_groups(table.column(key), [])
    return table.take(pa.array(np.sort(order[starts])))


def dedupe_rows(response_id: Strings, recorded: np.ndarray) -> np.ndarray:
    """Rows of one copy per ResponseId: the most recently recorded (ties: the later row);
    returned in row order."""
    n = len(response_id)
    codes, distinct = _encoded(response_id)  # one hash table for both questions
    if distinct == n:
        return np.arange(n)
    order, starts = _first_of_groups(response_id, [(recorded, "descending")], codes)
    return np.sort(order[starts])


def candidate_rows(token: Strings, survey: Strings) -> np.ndarray:
    """Responses that take part in collisions: a non-empty token and a SurveyID (a mask)."""
    has_token = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(token), ""), False)
    mask = pc.and_(has_token, pc.is_valid(survey))
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


@dataclass
class TokenWinners:
    """Per token (in no particular order): its winning row, that row's `for` day, and the
    first `for` day of any of its responses recorded by that day's cut-off (NaT if none)."""

    rows: np.ndarray
    day: np.ndarray  # datetime64[D]
    on_time_day: np.ndarray  # datetime64[D]


def token_winners(
    token: Strings,
    start: np.ndarray,
    recorded: np.ndarray,
    response_id: Strings,
    timezone: str,
    cutoff_hour: int,
) -> TokenWinners:
    """Earliest start wins per token; ties: earlier recorded, then smaller ResponseId."""
    keys = [(start, "ascending"), (recorded, "ascending"), (response_id, "ascending")]
    order, starts = _first_of_groups(token, keys)
    days = for_dates(start, timezone)
    timely = on_time(recorded, days, timezone, cutoff_hour)
    # Within a token, rows are sorted by start, and the `for` day grows with the start:
    # the first on-time row of a token has its earliest on-time day.
    group = np.cumsum(starts) - 1
    hits = np.flatnonzero(timely[order])
    first_hit = np.ones(len(hits), dtype=bool)
    first_hit[1:] = group[hits[1:]] != group[hits[:-1]]
    on_time_day = np.full(int(starts.sum()), np.datetime64("NaT"), dtype="datetime64[D]")
    on_time_day[group[hits[first_hit]]] = days[order[hits[first_hit]]]
    rows = order[starts]
    return TokenWinners(rows=rows, day=days[rows], on_time_day=on_time_day)


def beats(a_start: np.ndarray, a_rec: np.ndarray, a_id: np.ndarray,
          b_start: np.ndarray, b_rec: np.ndarray, b_id: np.ndarray) -> np.ndarray:  # fmt: skip
    """Element-wise: does response a start before response b (ties: recorded, then id)?"""
    return (a_start < b_start) | (
        (a_start == b_start) & ((a_rec < b_rec) | ((a_rec == b_rec) & (a_id < b_id)))
    )


# --- the same rules on a DataFrame (tests, small inputs) ---------------------------------
def _strings(series: pd.Series) -> pa.Array:
    return pa.array(series.astype("string"), from_pandas=True, type=pa.string())


def dedupe_responses(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`dedupe_rows`."""
    pos = dedupe_rows(_strings(frame["ResponseId"]), frame[RECORDED].to_numpy("int64"))
    return frame if len(pos) == len(frame) else frame.take(pos)


def candidates(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`candidate_rows`."""
    mask = candidate_rows(_strings(frame[TOKEN]), _strings(frame[SURVEY]))
    return frame if mask.all() else frame[mask]


def _winners(frame: pd.DataFrame, timezone: str, cutoff_hour: int) -> TokenWinners:
    return token_winners(
        _strings(frame[TOKEN]), frame[START].to_numpy("int64"), frame[RECORDED].to_numpy("int64"),
        _strings(frame["ResponseId"]), timezone, cutoff_hour,
    )  # fmt: skip


def earliest_per_token(frame: pd.DataFrame) -> pd.DataFrame:
    """The winning response of every token, in input order."""
    return frame.take(np.sort(_winners(frame, "UTC", 0).rows))


def on_time_days(frame: pd.DataFrame, timezone: str, cutoff_hour: int) -> pd.Series:
    """Per token, its earliest on-time `for` day (datetime64); tokens without one absent."""
    won = _winners(frame, timezone, cutoff_hour)
    tokens = frame[TOKEN].to_numpy()[won.rows]
    keep = ~np.isnat(won.on_time_day)
    return pd.Series(won.on_time_day[keep], index=pd.Index(tokens[keep], name=TOKEN), name="day")
