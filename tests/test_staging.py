"""Staged frames (pipeline/staging.py): written atomically, read back memory-mapped."""

from __future__ import annotations

import gc
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.staging import as_frame, read_frame, read_table, table_columns, write_frame


def _table(n: int = 200_000) -> pa.Table:
    return pa.table(
        {
            "token": pa.array([f"T{i:09d}" for i in range(n)]),
            "start": pa.array(range(n), pa.int64()),
            "answer": pa.array([None if i % 7 == 0 else f"a{i % 13}" for i in range(n)]),
            "flag": pa.array([i % 2 == 0 for i in range(n)]),
        }
    )


def test_round_trip_keeps_every_value_and_type(tmp_path: Path) -> None:
    table = _table()
    path = write_frame(table, tmp_path / "sub" / "batch.arrow")
    assert read_table(path).equals(table)
    assert table_columns(path) == ["token", "start", "answer", "flag"]
    assert not list((tmp_path / "sub").glob(".*.tmp"))  # the temporary file was renamed


def test_columns_come_in_the_order_asked(tmp_path: Path) -> None:
    table = _table(1000)
    path = write_frame(table, tmp_path / "batch.arrow")
    got = read_table(path, columns=["flag", "token"])
    assert got.column_names == ["flag", "token"]
    assert got.column("token").equals(table.column("token"))
    assert got.column("flag").equals(table.column("flag"))


def test_a_table_outlives_its_file(tmp_path: Path) -> None:
    """A run removes its run folder while tables read from it may still be alive, and a
    write replaces a file that was read: the mapped table keeps the bytes it was read with."""
    path = tmp_path / "batch.arrow"
    write_frame(_table(), path)
    got = read_table(path, columns=["token", "start"])
    write_frame(_table(10), path)  # replaced under the reader
    path.unlink()
    gc.collect()
    assert got.num_rows == 200_000
    assert got.column("token")[199_999].as_py() == "T000199999"
    assert pc.sum(got.column("start")).as_py() == sum(range(200_000))


def test_frames_keep_arrow_strings_and_nulls(tmp_path: Path) -> None:
    frame = pd.DataFrame({"token": ["a", "b", None], "n": [1, 2, 3]})
    path = write_frame(frame, tmp_path / "f.arrow")
    back = read_frame(path)
    assert str(back["token"].dtype) == "string"
    assert back["token"].isna().tolist() == [False, False, True]
    assert back["n"].tolist() == [1, 2, 3]
    assert as_frame(read_table(path, ["n"])).columns.tolist() == ["n"]
