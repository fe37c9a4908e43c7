"""pipeline.state.bulk: the key order large writes use."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline.state.bulk import key_sorted


def _tokens(n: int, width: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    alphabet = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    return ["".join(rnd.choice(alphabet) for _ in range(width)) for _ in range(n)]


def _arrow_order(rows: pa.Table, key: str) -> pa.Table:
    return rows.take(pc.sort_indices(rows, sort_keys=[(key, "ascending")]))


@pytest.mark.parametrize(
    "tokens",
    [
        pytest.param(_tokens(2000, 17, 1), id="same width"),
        pytest.param(_tokens(1000, 9, 2) + _tokens(1000, 17, 3), id="mixed widths"),
        pytest.param(["b", "a", "é", "ab", "a"], id="multibyte and prefixes"),
        pytest.param(["zz", "é", "ab", "\x00a", "a\x00"], id="same width, bytes above 127 and NUL"),
        pytest.param(["zz", None, "aa"], id="null key"),
        pytest.param(["z", "", "a"], id="empty key"),
    ],
)
def test_rows_come_in_the_byte_order_of_their_key(tokens):
    rows = pa.table({"token": pa.array(tokens, pa.string()), "n": range(len(tokens))})
    assert key_sorted(rows, "token").equals(_arrow_order(rows, "token"))


def test_equal_keys_keep_their_order_so_the_last_write_still_wins():
    tokens = _tokens(50, 12, 4) * 4  # each key four times
    rows = pa.table({"token": tokens, "n": range(len(tokens))})
    ordered = key_sorted(rows, "token")
    assert ordered.equals(_arrow_order(rows, "token"))
    for token in set(tokens):
        ns = ordered.filter(pc.equal(ordered["token"], token))["n"].to_pylist()
        assert ns == sorted(ns)


def test_chunked_and_sliced_columns():
    tokens = _tokens(3000, 17, 5)
    rows = pa.concat_tables(
        [pa.table({"token": tokens[:1000], "n": range(1000)}),
         pa.table({"token": tokens[1000:], "n": range(1000, 3000)})]
    ).slice(10, 2500)  # fmt: skip
    assert rows.column("token").num_chunks == 2
    assert key_sorted(rows, "token").equals(_arrow_order(rows, "token"))
    single = pa.table({"token": tokens, "n": range(3000)}).slice(7, 100)
    assert key_sorted(single, "token").equals(_arrow_order(single, "token"))


def test_non_string_keys_and_empty_tables():
    rows = pa.table({"id": [3, 1, 2], "x": ["c", "a", "b"]})
    assert key_sorted(rows, "id")["x"].to_pylist() == ["a", "b", "c"]
    empty = pa.table({"token": pa.array([], pa.string())})
    assert key_sorted(empty, "token").num_rows == 0
