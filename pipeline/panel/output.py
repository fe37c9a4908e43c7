"""Published values of panel responses (SPEC §3.6): column set and value formats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import PanelRules
from pipeline.numbers import numeric_values
from pipeline.panel.columns import LEADING, TRAILING, question_columns
from pipeline.panel.qualtrics import END, RECORDED, START, TOKEN, WAVE

ZIP_COLUMN = "A3"
WHOLE_NUMBER_COLUMNS = ("A2",)
MIN_ZIP_POPULATION = 100
# Columns kept beside the published values in the day store (never published).
KEYS = ["_token", "_response_id", START, RECORDED]


def local_timestamps(epoch: np.ndarray, timezone: str) -> pd.Series:
    """Epoch seconds → ``YYYY-MM-DD HH:MM:SS`` strings in ``timezone`` (missing → NA)."""
    s = pd.Series(epoch, dtype="int64")
    missing = s == np.iinfo(np.int64).min
    utc = pd.to_datetime(s.where(~missing, 0), unit="s", utc=True)
    local = utc.dt.tz_convert(timezone).dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    text = pa.array(local).cast(pa.string())
    out = pd.Series(text.to_pandas(types_mapper=pd.ArrowDtype), dtype="string")
    return out.mask(missing.to_numpy(), pd.NA)


def format_number(values: pd.Series, whole_only: bool = False) -> pd.Series:
    """A numeric item: a number (``3``, ``2.5``) or NA when it does not parse."""
    arr = numeric_values(values)
    bad = ~np.isfinite(arr)
    if whole_only:
        bad |= np.isfinite(arr) & (np.floor(arr) != arr)
    arr = np.where(bad, np.nan, arr + 0.0)  # +0.0 turns -0.0 into 0.0
    text = pa.array(arr, from_pandas=True).cast(pa.string())
    return pd.Series(text.to_pandas(types_mapper=pd.ArrowDtype), index=values.index, dtype="string")


def format_text(values: pd.Series) -> pd.Series:
    """Runs of whitespace squashed to one space, trimmed; empty becomes NA."""
    arr = pa.array(values.astype("string"), from_pandas=True, type=pa.string())
    if pc.any(pc.match_substring_regex(arr, r"\s\s|^\s|\s$|[\t\r\n]")).as_py():
        arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))
    out = pd.Series(arr.to_pandas(types_mapper=pd.ArrowDtype), index=values.index, dtype="string")
    return out.replace("", pd.NA)


def format_zip(values: pd.Series, populations: dict[str, int] | None) -> pd.Series:
    """ZIP codes longer than 5 digits, or of an area under 100 people, become NA (privacy)."""
    text = format_text(values)
    digits = text.str.count(r"\d").fillna(0)
    out = text.mask(digits > 5, pd.NA)
    if populations:
        pop = out.str.slice(0, 5).map(populations)
        out = out.mask((pop < MIN_ZIP_POPULATION).fillna(False), pd.NA)
    return out


def publish_values(
    frame: pd.DataFrame,
    columns: list[str],
    rules: PanelRules,
    timezone: str,
    zip_population: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Published values (strings, missing = NA) of winning responses, plus the day-store keys.

    ``columns`` are the export columns the rows came with; absent questions stay absent
    (they are NA when the day is rendered with the union of all waves' columns).
    """
    numeric = set(rules.numeric_items)
    frame = frame.reset_index(drop=True)  # helpers below build fresh RangeIndex series
    out: dict[str, pd.Series] = {
        "_token": frame[TOKEN].astype("string"),
        "_response_id": frame["ResponseId"].astype("string"),
        START: frame[START],
        RECORDED: frame[RECORDED],
        "StartDatetime": local_timestamps(frame[START].to_numpy(), timezone),
        "EndDatetime": local_timestamps(frame[END].to_numpy(), timezone),
    }
    for col in question_columns(columns, rules.consent_column):
        if col not in frame:
            continue
        if col in numeric:
            out[col] = format_number(frame[col], whole_only=col in WHOLE_NUMBER_COLUMNS)
        elif col == ZIP_COLUMN:
            out[col] = format_zip(frame[col], zip_population)
        else:
            out[col] = format_text(frame[col])
    out["wave"] = frame[WAVE].astype("string")
    lang = frame["UserLanguage"] if "UserLanguage" in frame else pd.Series(pd.NA, index=frame.index)
    out["UserLanguage"] = format_text(lang.astype("string"))
    return pd.DataFrame(out, index=frame.index)


def published_columns(questions: list[str]) -> list[str]:
    """The header of every daily and cumulative file."""
    return [*LEADING, *questions, *TRAILING]


def day_table(rows: pd.DataFrame, questions: list[str], weights: pd.Series | None) -> pd.DataFrame:
    """A day's published table: union columns, NA where absent, ``weight`` joined by token.

    The last column, ``_token``, is not published: it lets checks see respondents."""
    rows = rows.sort_values([START, RECORDED, "_response_id"], kind="stable")
    if weights is not None:
        weight = rows["_token"].map(weights).astype("string")
    else:
        weight = pd.Series(pd.NA, index=rows.index, dtype="string")
    out = rows.reindex(columns=published_columns(questions)).astype("string")
    out["weight"] = weight
    out["_token"] = rows["_token"].astype("string")  # for checks; dropped before writing
    return out.reset_index(drop=True)
