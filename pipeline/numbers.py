"""Parsing numeric answers: one rule for "is this a number" (eligibility and output agree)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Optional sign, digits with an optional fraction (or a bare fraction), optional exponent,
# surrounding blanks allowed. No thousands separators: "4,5" is a multi-select answer.
NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"


def _strings(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pd.Series):
        return pa.array(values.astype("string"), from_pandas=True, type=pa.string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.string())


def numeric_values(values: pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """float64 per value; NaN when missing or not a number (``a few``, ``3 people``)."""
    arr = _strings(values)
    out = np.full(len(arr), np.nan)
    # Most answers are plain ASCII digits: those need no regex.
    plain = np.asarray(pc.fill_null(pc.ascii_is_decimal(arr), False).to_numpy(zero_copy_only=False))
    if plain.any():
        out[plain] = pc.cast(arr.filter(pa.array(plain)), pa.float64()).to_numpy()
    rest = np.flatnonzero(~plain & np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False)))
    if len(rest):
        sub = arr.take(pa.array(rest))
        ok = pc.fill_null(pc.match_substring_regex(sub, NUMBER), False)
        cleaned = pc.utf8_trim_whitespace(pc.if_else(ok, sub, pa.scalar(None, pa.string())))
        out[rest] = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    return np.where(np.isfinite(out), out, np.nan)
