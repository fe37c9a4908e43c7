"""Value and file formats of the session downloads: the platform's text of each value,
deterministic ZIP and gzip bytes."""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.session.formats import (
    cell,
    gzip_bytes,
    platform_csv,
    platform_datetime,
    platform_json,
    ruling_time,
    to_csv,
    zip_bytes,
)


@pytest.mark.parametrize(
    ("stamp", "text"),
    [
        (datetime(2019, 11, 7, 17, 13, 38, 395000, tzinfo=UTC), "2019-11-07 17:13:38.395000+00:00"),
        (datetime(2019, 11, 7, 17, 13, 38, 702958, tzinfo=UTC), "2019-11-07 17:13:38.702958+00:00"),
        (datetime(2019, 11, 7, 17, 13, 38, tzinfo=UTC), "2019-11-07 17:13:38+00:00"),
        # another zone is written in UTC
        (
            datetime(2019, 11, 7, 9, 13, 38, 1000, tzinfo=timezone(timedelta(hours=-8))),
            "2019-11-07 17:13:38.001000+00:00",
        ),
    ],
)
def test_platform_datetime(stamp: datetime, text: str) -> None:
    assert platform_datetime(stamp) == text


def test_ruling_time_is_utc_to_the_minute() -> None:
    assert ruling_time(datetime(2019, 11, 8, 10, 5, 59, 999000, tzinfo=UTC)) == "2019-11-08 10:05"
    local = datetime(2024, 1, 2, 12, 5, tzinfo=timezone(timedelta(hours=-8)))
    assert ruling_time(local) == "2024-01-02 20:05"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "True"),
        (False, "False"),
        (3, "3"),
        (2.5, "2.5"),
        (float("nan"), ""),
        ("text", "text"),
        ([1770], "[1770]"),
        (["white", "hisp"], "['white', 'hisp']"),
        ([None, 390], "[None, 390]"),
        ({"a": True}, "{'a': True}"),
    ],
)
def test_cell_writes_values_as_python_does(value: object, text: str) -> None:
    assert cell(value) == text


def test_csv_quotes_only_when_needed_and_reads_back() -> None:
    data = to_csv(["a", "b"], [["x, y", ['say "hi"']], [None, 1]])
    assert data == b'a,b\n"x, y","[\'say ""hi""\']"\n,1\n'
    assert list(csv.reader(io.StringIO(data.decode()))) == [
        ["a", "b"],
        ["x, y", "['say \"hi\"']"],
        ["", "1"],
    ]


def test_platform_csv_quotes_every_value_but_numbers() -> None:
    """The platform's ``csv.QUOTE_NONNUMERIC``: the header and every text quoted, numbers
    and booleans bare (True/False are numbers to Python), None as a quoted empty text,
    lists as their Python text, ``\r\n`` line ends."""
    data = platform_csv(
        ["response__id", "response__completed", "n", "x", "consent__comment", "list"],
        [["1353", True, 0, 19.5, None, ['say "hi"']], ["7", False, -2, 0.1, "", []]],
    )
    assert data == (
        b'"response__id","response__completed","n","x","consent__comment","list"\r\n'
        b'"1353",True,0,19.5,"","[\'say ""hi""\']"\r\n'
        b'"7",False,-2,0.1,"","[]"\r\n'
    )


def test_platform_json_streams_tab_indented_records() -> None:
    data = platform_json([{"a": {"id": "1353", "c": None}, "é": [1]}, {"b": True}])
    assert data == (
        b'[\n{\n\t"a": {\n\t\t"id": "1353",\n\t\t"c": null\n\t},\n\t"\\u00e9": [\n\t\t1\n'
        b'\t]\n},\n{\n\t"b": true\n}\n]'
    )
    assert platform_json([]) == b"[\n\n]"


def test_zip_and_gzip_bytes_are_deterministic() -> None:
    entries = {"b.csv": b"2\n", "a.csv": b"1\n"}
    first = zip_bytes(entries)
    assert zip_bytes(dict(reversed(list(entries.items())))) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["a.csv", "b.csv"]
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert archive.read("b.csv") == b"2\n"
    packed = gzip_bytes(b"rows\n" * 100)
    assert packed == gzip_bytes(b"rows\n" * 100)
    assert packed[4:8] == b"\0\0\0\0" and not packed[3] & 0x08  # mtime 0, no file name
    assert gzip.decompress(packed) == b"rows\n" * 100
