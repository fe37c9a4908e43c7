"""The published CSV writer: minimal RFC 4180 quoting, bare NA for missing values."""

import csv
import io

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.csvfmt import to_csv_bytes
from pipeline.textbytes import byte_set, may_contain

cells = st.one_of(
    st.none(), st.text(alphabet='ab ,"\r\n\té1', max_size=6).filter(lambda s: s != "NA")
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=20), st.integers(0, 3))
def test_round_trips_through_the_csv_module(rows: list[tuple], offset: int) -> None:
    table = pa.table({"a": [r[0] for r in rows], "b,c": [r[1] for r in rows]}, schema=pa.schema(
        [("a", pa.string()), ("b,c", pa.string())]))  # fmt: skip
    table = table.slice(min(offset, len(rows) - 1))  # sliced arrays keep foreign bytes around
    text = to_csv_bytes(table).decode()
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == ["a", "b,c"]
    expected = [["NA" if v is None else v for v in row.values()] for row in table.to_pylist()]
    assert parsed[1:] == expected


def test_quotes_only_fields_that_need_them() -> None:
    table = pa.table({"x": ["plain", "4,5", 'say "hi"', None, "two\nlines"]})
    assert to_csv_bytes(table) == b'x\nplain\n"4,5"\n"say ""hi"""\nNA\n"two\nlines"\n'


def test_byte_scan_never_misses_a_byte() -> None:
    table = byte_set(b",")
    assert not may_contain(pa.array(["a", None, "b c"]), table)
    assert may_contain(pa.array(["a", "4,5"]), table)
    assert may_contain(pa.chunked_array([["x"], ["y,z"]]), table)
    # a slice keeps its parent's buffer: a false alarm is allowed, a miss is not
    assert may_contain(pa.array(["1,2", "x"]).slice(1), table)
    assert may_contain(pa.array([1, 2]), table)  # not strings: defer to exact kernels
