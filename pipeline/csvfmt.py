"""Fast CSV writing of all-string tables: minimal quoting (RFC 4180), `NA` for missing values.

pyarrow's writer quotes every string and pandas' is slow, so rows are joined with
pyarrow compute kernels instead: a field is quoted only when it holds a comma, a quote
or a line break; missing values are written as the bare token ``NA``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.textbytes import byte_set, may_contain

NA = "NA"


_SPECIAL = byte_set(b'",\r\n')  # bytes that make a field need quotes
_LIMIT = 1 << 30  # below this many bytes a day's lines fit 32-bit string offsets


def _field(values: pa.Array | pa.ChunkedArray, text: pa.DataType) -> pa.Array:
    values = pc.cast(values, text)
    if may_contain(values, _SPECIAL):
        needs = pc.match_substring_regex(values, r'[",\r\n]')
        if pc.any(needs).as_py():
            quote = pa.scalar('"', text)
            body = pc.replace_substring(values, '"', '""')
            escaped = pc.binary_join_element_wise(quote, body, quote, pa.scalar("", text))
            values = pc.if_else(needs, escaped, values)
    return values  # nulls stay null: the row join writes them as NA


def to_csv_bytes(frame: pd.DataFrame | pa.Table, header: bool = True) -> bytes:
    """Render a frame or Arrow table of strings (missing = NA) as CSV, ``\\n`` line endings."""
    names = list(frame.column_names if isinstance(frame, pa.Table) else frame.columns)
    head = (",".join(_header_field(c) for c in names) + "\n") if header else ""
    if len(frame) == 0:
        return head.encode("utf-8")
    if isinstance(frame, pa.Table):
        columns = [frame.column(c) for c in names]
    else:
        columns = [pa.array(frame[c].astype("string"), from_pandas=True) for c in names]
    # Quoting can double a field's size; leave room for it, separators and NA.
    size = sum(c.nbytes for c in columns) * 2 + len(frame) * 3 * (len(names) + 1)
    text = pa.string() if size < _LIMIT else pa.large_string()
    fields = [_field(c, text) for c in columns]
    if len(fields) == 1:
        lines = pc.fill_null(fields[0], NA)
    else:
        lines = pc.binary_join_element_wise(
            *fields, pa.scalar(",", text), null_handling="replace", null_replacement=NA
        )
    empty, newline = pa.scalar("", text), pa.scalar("\n", text)
    lines = pc.binary_join_element_wise(lines, newline, empty)
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    # A string array's data buffer is its values back to back: the file body.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32 if text == pa.string() else np.int64)
    begin, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    body = memoryview(lines.buffers()[2])[begin:end]  # no copy: the one copy is the join
    return b"".join((head.encode("utf-8"), body))


def _header_field(name: str) -> str:
    if any(ch in name for ch in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name
