"""Parsing numeric answers: one rule for "is this a number" (eligibility and output agree)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Optional sign, digits with an optional fraction (or a bare fraction), optional exponent,
# surrounding blanks allowed. No thousands separators: "4,5" is a multi-select answer.
NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"


def numeric_values(values: pd.Series) -> np.ndarray:
    """float64 per value; NaN when missing or not a number (``a few``, ``3 people``)."""
    arr = pa.array(values.astype("string"), from_pandas=True, type=pa.string())
    ok = pc.fill_null(pc.match_substring_regex(arr, NUMBER), False)
    cleaned = pc.utf8_trim_whitespace(pc.if_else(ok, arr, pa.scalar(None, pa.string())))
    out = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    return np.where(np.isfinite(out), out, np.nan)
