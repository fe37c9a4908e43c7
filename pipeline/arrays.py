"""Small conversions between Arrow arrays and NumPy used by the stages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def to_numpy(values: pa.Array | pa.ChunkedArray, fill: Any = None) -> np.ndarray:
    """``values`` as a NumPy array (copied where Arrow must), nulls replaced by ``fill``
    when given."""
    if fill is not None:
        values = pc.fill_null(values, fill)
    return values.to_numpy(zero_copy_only=False)
