"""Typed Parquet copies of a day (pipeline/panel/parquet.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.panel import parquet

TYPES = {
    "StartDatetime": "date-time (America/Los_Angeles)", "A1_1": "integer", "A2": "number",
    "A3": "ZIP code (text)", "B2": "multi-select code list (text)", "Q9_TEXT": "text",
    "wave": "integer", "weight": "number",
}  # fmt: skip
CSV = (
    b"StartDatetime,A1_1,A2,A3,B2,Q9_TEXT,wave,weight\n"
    b'2021-06-01 10:00:00,2,3.0,01234,"7,10","a, b",2,0.5\n'
    b"2021-11-07 01:30:00,NA,NA,NA,NA,NA,NA,NA\n"
)


def test_values_take_the_codebook_types():
    table, untyped = parquet.day_table(CSV, TYPES)
    assert untyped == 0
    schema = table.schema
    assert schema.field("StartDatetime").type == pa.timestamp("ms", tz="America/Los_Angeles")
    assert schema.field("A1_1").type == schema.field("wave").type == pa.int64()
    assert schema.field("A2").type == schema.field("weight").type == pa.float64()
    assert schema.field("A3").type == schema.field("B2").type == pa.string()
    row = table.slice(0, 1).to_pylist()[0]
    assert row["A3"] == "01234" and row["B2"] == "7,10" and row["Q9_TEXT"] == "a, b"
    assert row["A1_1"] == 2 and row["A2"] == 3.0 and row["wave"] == 2 and row["weight"] == 0.5
    # 10:00 Pacific daylight time is 17:00 UTC
    assert row["StartDatetime"].astimezone(UTC) == datetime(2021, 6, 1, 17, tzinfo=UTC)
    # NA is null; a time in the repeated hour of the autumn change is the earlier instant
    last = table.slice(1, 1).to_pylist()[0]
    assert all(last[c] is None for c in TYPES if c != "StartDatetime")
    assert last["StartDatetime"].astimezone(UTC) == datetime(2021, 11, 7, 8, 30, tzinfo=UTC)


def test_a_value_that_does_not_parse_is_null_and_counted():
    csv = b"A1_1,A2\nYes,2.5\n3,x\n1.5,NA\n"
    table, untyped = parquet.day_table(csv, {"A1_1": "integer", "A2": "number"})
    assert untyped == 3  # "Yes" and 1.5 (not whole) in an integer column, "x" in a number
    assert table.column("A1_1").to_pylist() == [None, 3, None]
    assert table.column("A2").to_pylist() == [2.5, None, None]


def test_one_row_group_and_a_name_that_follows_content_and_types():
    table, _ = parquet.day_table(CSV, TYPES)
    data = parquet.to_bytes(table)
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert meta.num_row_groups == 1 and meta.num_rows == 2
    name = parquet.copy_name("2021-06-01", "a" * 64, TYPES)
    assert name.startswith("parquet/day=2021-06-01/part-") and name.endswith(".parquet")
    assert parquet.copy_name("2021-06-01", "a" * 64, TYPES) == name
    assert parquet.copy_name("2021-06-01", "b" * 64, TYPES) != name
    assert parquet.copy_name("2021-06-01", "a" * 64, {**TYPES, "A2": "text"}) != name
