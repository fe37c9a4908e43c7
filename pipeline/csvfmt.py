"""Fast CSV writing of all-string tables: minimal quoting (RFC 4180), `NA` for missing values.

pyarrow's writer quotes every string and pandas' is slow, so rows are joined with
pyarrow compute kernels instead: a field is quoted only when it holds a comma, a quote
or a line break; missing values are written as the bare token ``NA``.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NA = "NA"


def _field(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    values = pc.cast(values, pa.large_string())
    needs = pc.match_substring_regex(values, r'[",\r\n]')
    if pc.any(needs).as_py():
        quote = pa.scalar('"', pa.large_string())
        body = pc.replace_substring(values, '"', '""')
        escaped = pc.binary_join_element_wise(quote, body, quote, pa.scalar("", pa.large_string()))
        values = pc.if_else(needs, escaped, values)
    return pc.fill_null(values, NA)


def to_csv_bytes(frame: pd.DataFrame | pa.Table, header: bool = True) -> bytes:
    """Render a frame or Arrow table of strings (missing = NA) as CSV, ``\\n`` line endings."""
    names = list(frame.column_names if isinstance(frame, pa.Table) else frame.columns)
    head = (",".join(_header_field(c) for c in names) + "\n") if header else ""
    if len(frame) == 0:
        return head.encode("utf-8")
    if isinstance(frame, pa.Table):
        fields = [_field(frame.column(c)) for c in names]
    else:
        fields = [_field(pa.array(frame[c].astype("string"), from_pandas=True)) for c in names]
    if len(fields) == 1:
        lines = fields[0]
    else:
        lines = pc.binary_join_element_wise(*fields, pa.scalar(",", pa.large_string()))
    empty, newline = pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string())
    lines = pc.binary_join_element_wise(lines, newline, empty)
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    # A large_string array's data buffer is its values back to back: the file body.
    start = lines.offset
    raw_offsets = pa.Array.from_buffers(pa.int64(), len(lines) + 1, [None, lines.buffers()[1]])
    begin, end = raw_offsets[start].as_py(), raw_offsets[start + len(lines)].as_py()
    return head.encode("utf-8") + lines.buffers()[2].to_pybytes()[begin:end]


def _header_field(name: str) -> str:
    if any(ch in name for ch in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name
