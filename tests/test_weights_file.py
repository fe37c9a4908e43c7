"""pipeline/panel/weights.py: weights files read by Arrow exactly as pandas reads them."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from pipeline.panel.qualtrics import ExportError
from pipeline.panel.weights import read_weights, text_frame

VALID = b"cid,weight\nTk-aa_x00,1.629130\nOf-bb_x00,0.485773\nZz-cc_x00,\nQq-dd_x00,2\n"

EDGES = [
    VALID,
    b"\xef\xbb\xbf" + VALID,  # UTF-8 byte-order mark
    VALID.replace(b"\n", b"\r\n"),
    VALID.replace(b"\n", b"\r"),
    b"\n\n" + VALID + b"\n\n",  # blank lines
    VALID.rstrip(b"\n"),  # no final newline
    b" CID , Weight \n a , 1 \n",  # names and values with spaces
    b"cid,weight,extra\na,1,x\nb,2,y\n",
    b"weight,cid\n1,a\n",
    b"cid,weight\n",  # header only
    b"cid,weight\nNA,1\nnull,2\nNaN,3\n",  # texts pandas could take for missing
    b"cid,weight\na,1e-3\nb,-0\nc,inf\nd,nan\n",
    b"cid,weight\na,x\n",  # not a number: line 2
    b"cid,weight\na,1\nb,1.5.2\n",  # not a number: line 3
    b"cid,weight\na\n",  # short row (pandas pads it)
    b"cid,weight\na,1,2\n",  # long row
    b"cid,weight,x\na,1\n",
    b"cid,weight\n  \n",
    b"cid,weight\n,\n",
    b"cid,weight\na,\xff\n",  # not UTF-8
    b"",
    b"\n\n",
    b'cid,weight\na,"1\n',  # unterminated quote
    b'"cid","weight"\n"a",1\n"b""c",2\n',
    b'cid,weight\na"b,1\n',
    b"cid,weight\na\x00,1\n",
    b"cid,cid,weight\na,b,1\n",  # repeated name
    b"cid,CID,weight\na,b,1\n",
    b",cid,weight\nx,a,1\n",  # empty name
    b"2021,cid,weight\n1,a,1\n",  # numeric name over numbers
    b"id,wt\na,1\n",  # no cid/weight
    b"cid;weight\na;1\n",
]


def outcome(data: bytes, fast: bool) -> tuple[str, object]:
    """What reading ``data`` gives: the frame, or the error's message."""
    try:
        return "frame", text_frame(data, "w.csv", fast=fast)
    except ExportError as exc:
        return "error", str(exc)


def assert_same(data: bytes) -> None:
    fast, slow = outcome(data, True), outcome(data, False)
    assert fast[0] == slow[0], data
    if fast[0] == "error":
        assert fast[1] == slow[1], data
    else:
        pd.testing.assert_frame_equal(fast[1], slow[1], check_column_type=False, obj=repr(data))


@pytest.mark.parametrize("data", EDGES, ids=range(len(EDGES)))
def test_arrow_reads_what_pandas_reads(data: bytes) -> None:
    assert_same(data)


def test_arrow_reads_what_pandas_reads_after_random_edits() -> None:
    """Seeded fuzz: bytes inserted, replaced and deleted in a valid file."""
    alphabet = [b",", b"\n", b"\r", b'"', b" ", b"\t", b"a", b"1", b".", b"e", b"-", b"\xff",
                b"\xef\xbb\xbf", b"\x00", b"", b"cid", b"weight"]  # fmt: skip
    rng = random.Random(20261202)
    for _ in range(600):
        data = bytearray(VALID * rng.randint(1, 3))
        for _edit in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            data[at : at + rng.randint(0, 2)] = rng.choice(alphabet)
        assert_same(bytes(data))


def test_large_file_takes_the_fast_path_and_matches() -> None:
    rows = "".join(f"T{i:08d}-x,{i % 97 / 7:.6f}\n" for i in range(200_000))
    data = ("cid,weight\n" + rows).encode()
    assert_same(data)
    table = read_weights(data, "w.csv")
    assert table.num_rows == 200_000
    assert table.column("cid")[123].as_py() == "T00000123-x"
    assert table.column("weight")[5].as_py() == f"{5 / 7:.6f}"


def test_read_weights_strips_and_skips_empty_weights() -> None:
    table = read_weights(b" CID , Weight \n a , 1.5 \n b , \n , 2\n", "w.csv")
    assert table.to_pydict() == {"cid": ["a"], "weight": ["1.5"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"cid,weight\na,1\nb,x\n", "w.csv, line 3, column weight: weight is not a number"),
        (b"id,wt\na,1\n", "w.csv, line 1: weights file needs a header with cid,weight"),
        (b"cid,weight\na,\xff\n", "w.csv: unreadable weights file (malformed CSV or not UTF-8)"),
        (b"cid,weight\na,1\nb,2,3\n", "w.csv, line 3: unreadable weights file"),
    ],
)
def test_read_weights_errors_name_the_line_not_the_value(data: bytes, message: str) -> None:
    with pytest.raises(ExportError) as err:
        read_weights(data, "w.csv")
    assert str(err.value).startswith(message)
    assert "\xff" not in str(err.value) and "2,3" not in str(err.value)
