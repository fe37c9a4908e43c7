"""pipeline.arrays.to_numpy: Arrow arrays (chunked or not, with nulls) as NumPy arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.arrays import to_numpy


def _ints() -> pa.ChunkedArray:
    return pa.chunked_array([[1, None, 3], [], [None, 5]], type=pa.int64())


def test_chunked_ints_with_nulls_without_fill_become_floats_with_nan():
    got = to_numpy(_ints())
    assert got.dtype == np.float64
    assert got.shape == (5,)
    assert np.isnan(got).tolist() == [False, True, False, True, False]
    assert got[~np.isnan(got)].tolist() == [1.0, 3.0, 5.0]


def test_chunked_ints_with_fill_keep_their_type():
    got = to_numpy(_ints(), fill=0)
    assert got.dtype == np.int64
    assert got.tolist() == [1, 0, 3, 0, 5]
    assert to_numpy(_ints(), fill=-1).tolist() == [1, -1, 3, -1, 5]


def test_the_input_keeps_its_nulls():
    values = _ints()
    to_numpy(values, fill=0)
    assert values.null_count == 2


def test_chunked_strings_with_and_without_fill():
    values = pa.chunked_array([["a", None], [None, "d"]], type=pa.string())
    plain = to_numpy(values)
    assert plain.dtype == object
    assert plain.tolist() == ["a", None, None, "d"]
    assert to_numpy(values, fill="").tolist() == ["a", "", "", "d"]


def test_false_and_zero_are_fills_not_missing_fills():
    flags = pa.chunked_array([[True, None], [None, False]], type=pa.bool_())
    got = to_numpy(flags, fill=False)
    assert got.dtype == np.bool_
    assert got.tolist() == [True, False, False, False]
    floats = pa.chunked_array([[1.5, None], [None]], type=pa.float64())
    assert to_numpy(floats, fill=0.0).tolist() == [1.5, 0.0, 0.0]


def test_chunked_without_nulls_and_plain_arrays():
    values = pa.chunked_array([[1, 2], [3]], type=pa.int32())
    got = to_numpy(values)
    assert got.dtype == np.int32 and got.tolist() == [1, 2, 3]
    plain = pa.array([None, 2.5], type=pa.float64())
    assert to_numpy(plain, fill=1.0).tolist() == [1.0, 2.5]
    assert np.isnan(to_numpy(plain)[0])


def test_a_chunked_array_without_chunks_is_empty():
    empty = pa.chunked_array([], type=pa.int64())
    assert to_numpy(empty).shape == (0,)
    assert to_numpy(empty, fill=0).shape == (0,)
