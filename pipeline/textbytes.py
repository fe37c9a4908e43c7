"""Quick scans of the raw character data of Arrow string arrays.

A string array keeps its values back to back in one buffer, so "does any value hold one
of these ASCII bytes" is one vectorised pass, far cheaper than a per-value regex. A yes
may be a false alarm (a sliced array's buffer holds bytes outside the slice); callers
then run the exact per-value kernel.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def byte_set(chars: bytes) -> np.ndarray:
    """A 256-entry lookup table marking ``chars``."""
    table = np.zeros(256, dtype=bool)
    table[list(chars)] = True
    return table


def may_contain(values: pa.Array | pa.ChunkedArray, table: np.ndarray) -> bool:
    """False only when no value of ``values`` (strings) holds a byte marked in ``table``."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    for chunk in chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return True  # not a plain string array: let the exact kernels decide
        data = chunk.buffers()[2]
        if data is not None and table[np.frombuffer(data, dtype=np.uint8)].any():
            return True
    return False
