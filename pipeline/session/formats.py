"""Value and file formats of the session-study downloads (SPEC §4.3).

Values are written as the source platform writes them, so researchers' scripts read them
unchanged: Python's text of each value (``True``/``False``, ``[1770]``,
``['white', 'hisp']``), datetimes as ``2019-11-07 17:13:38.395000+00:00`` and consent
times as ``2019-11-08 10:05`` (UTC). Files are byte-deterministic: ZIP entries carry a
fixed timestamp and gzip members ``mtime=0``, so unchanged output is never re-sent.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6


def platform_datetime(stamp: datetime) -> str:
    """A datetime as the platform writes it: Python's text of the UTC datetime,
    ``2019-11-07 17:13:38.395000+00:00`` (no fraction when it is zero, as Python does)."""
    return str(stamp.astimezone(UTC))


def ruling_time(stamp: datetime) -> str:
    """A consent ruling's time as the platform writes it: ``2019-11-08 10:05`` (UTC)."""
    return stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def cell(value: Any) -> str:
    """A value as CSV text: null → empty, booleans ``True``/``False``, finite numbers as
    Python writes them, lists and objects as Python's text of them (``[1770]``,
    ``['white', 'hisp']``), as the platform's CSV writer does."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """RFC 4180 CSV (minimal quoting, ``\\n`` line ends, UTF-8), cells via :func:`cell`."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def to_json(value: Any) -> bytes:
    """Pretty JSON (2-space indent, UTF-8, trailing newline)."""
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def zip_bytes(entries: Mapping[str, bytes]) -> bytes:
    """A ZIP of ``entries`` (name → bytes) in name order, every entry with the same fixed
    timestamp and mode, so the same entries always give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name], compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """One gzip member with ``mtime=0`` and no file name: the same data, the same bytes."""
    return gzip.compress(data, compresslevel=COMPRESS_LEVEL, mtime=0)


def platform_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV as the platform's downloads write it: Python's ``csv`` module with
    ``QUOTE_NONNUMERIC`` and its default ``\\r\\n`` line ends, UTF-8. Cells are written from
    their Python values: numbers and booleans bare (``0``, ``19.5``, ``True``), everything
    else quoted as its text (``"1353"``, ``"['white', 'hisp']"``), None as ``""``."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def platform_json(records: Iterable[Any]) -> bytes:
    """A JSON array as the platform's downloads stream it: ``[``, a newline, each record
    indented with tabs (ASCII, other values as their text), ``,\\n`` between records, a
    newline and ``]`` (no final newline; no records give ``[\\n\\n]``)."""
    body = ",\n".join(json.dumps(r, indent="\t", default=str) for r in records)
    return f"[\n{body}\n]".encode()
