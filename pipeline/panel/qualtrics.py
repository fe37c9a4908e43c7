"""Parsing of Qualtrics CSV exports (SPEC §3.1) into one normalised frame per file.

An export has three header rows (column names, question texts, one JSON ImportId object
per column) followed by data rows; three header rows and no data row is a valid export.
Question texts may hold newlines and commas, so rows are records, not lines.

Errors (SPEC §6) name the file, the physical line and, where there is one, the column, and
never quote the file's content: a row of a real export starts with the respondent's IP
address and ResponseId, so neither Arrow's nor the csv module's messages (which quote the
row) are passed on.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipeline.limits import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_COMPRESSION_RATIO,
    DEFAULT_MAX_EXPORT_BYTES,
    InflateError,
    gunzip,
    shown,
)

TIMESTAMP_COLUMNS = ("StartDate", "EndDate", "RecordedDate")
REQUIRED_COLUMNS = ("StartDate", "RecordedDate", "ResponseId")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
NULL_TOKENS = ["", "NA"]
# Default limit of one cell (header or data) in characters: the most a spreadsheet cell
# holds, far above any Qualtrics answer; a larger cell quarantines its file.
DEFAULT_MAX_CELL_CHARS = 32767
# The csv module (header rows, error paths) reads cells of any length: the limits above
# decide, and its own 128 KiB limit ("field larger than field limit") would otherwise end
# a parse with an error that names no line. Memory is bounded by max_export_bytes.
csv.field_size_limit(max(csv.field_size_limit(), (1 << 31) - 1))
_STRING_TYPES = {
    pa.string(): pd.StringDtype("pyarrow"),
    pa.large_string(): pd.StringDtype("pyarrow"),
}

# Derived columns added to every normalised frame (epoch seconds, UTC).
START, END, RECORDED, TOKEN, WAVE, SURVEY = (
    "_start",
    "_end",
    "_recorded",
    "_token",
    "_wave",
    "_survey",
)


class ExportError(ValueError):
    """A malformed export; the message names the file, the line and the column if known.

    ``message`` must never quote the file's content (cell values, rows). A file or column
    name that is not printable (a newline in it) is shown escaped: one line.
    """

    def __init__(
        self, name: str, line: int | None, message: str, column: str | None = None
    ) -> None:
        self.name, self.line, self.column = name, line, column
        where = f"{shown(name)}, line {line}" if line else shown(name)
        if column is not None:
            where += f", column {shown(column)}"
        super().__init__(f"{where}: {message}")


@dataclass
class ParsedExport:
    """One parsed export: its data and the header facts needed downstream."""

    name: str
    columns: list[str]
    questions: dict[str, str]
    timezones: dict[str, str]
    table: pa.Table  # every export column as text, plus the derived columns
    waves: set[int | None] = field(default_factory=set)

    @property
    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame (strings stay Arrow-backed)."""
        return self.table.to_pandas(types_mapper=_STRING_TYPES.get)


NAT = np.iinfo(np.int64).min  # a missing timestamp in the epoch columns
_QUOTE_OR_NL = re.compile(rb'["\n]')
_NON_SPACE = re.compile(rb"\S")  # what bytes.strip() keeps (ASCII whitespace aside)


def _blank(data: bytes, start: int = 0) -> bool:
    """Whether ``data[start:]`` is empty or ASCII whitespace, without copying it (an
    export's body is most of its bytes)."""
    return _NON_SPACE.search(data, start) is None


def _record_ends(data: bytes, count: int) -> list[int]:
    """Byte offsets just past each of the first ``count`` CSV records (quote-aware); a last
    record without a final line break ends at the end of the data."""
    ends: list[int] = []
    in_quotes = False
    for m in _QUOTE_OR_NL.finditer(data):
        if m.group() == b'"':
            in_quotes = not in_quotes
        elif not in_quotes:
            ends.append(m.end())
            if len(ends) == count:
                return ends
    if not in_quotes and not _blank(data, ends[-1] if ends else 0):
        ends.append(len(data))
    return ends


_FIELD_MARKS = re.compile(rb'[",\n]')


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """(physical line, 0-based field of its record) of byte ``offset`` (error path only)."""
    line, fld, in_quotes = 1, 0, False
    for m in _FIELD_MARKS.finditer(data, 0, offset):
        c = m.group()
        if c == b"\n":
            line += 1
            if not in_quotes:
                fld = 0
        elif c == b'"':
            in_quotes = not in_quotes
        elif not in_quotes:
            fld += 1
    return line, fld


def _column(names: list[str] | None, index: int) -> str | None:
    return names[index] if names is not None and 0 <= index < len(names) else None


def _check_bytes(data: bytes, name: str, utf8: bool = False) -> None:
    """Refuse NUL bytes (and with ``utf8``, bytes that are not UTF-8: Arrow checks that
    itself, so this runs only when it failed), naming their line and column."""
    nul = data.find(b"\x00")
    bad = -1
    if utf8:
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            bad = exc.start
    if nul < 0 and bad < 0:
        return
    what = "NUL byte" if 0 <= nul and (bad < 0 or nul < bad) else "undecodable bytes (not UTF-8)"
    offset = nul if what == "NUL byte" else bad
    line, fld = _position(data, offset)
    names = next(csv.reader([data[: data.find(b"\n")].decode("utf-8-sig", "replace")]), None)
    raise ExportError(name, line, f"{what} in a cell", _column(names, fld))


def decompress(
    data: bytes,
    name: str,
    max_bytes: int = DEFAULT_MAX_EXPORT_BYTES,
    max_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO,
) -> bytes:
    """The bytes of an export, gunzipped when ``name`` ends in ``.gz``.

    Inflation is bounded as it goes (:func:`pipeline.limits.gunzip`): output past
    ``max_bytes`` (or ``max_ratio`` times the compressed size) stops it with an
    :class:`ExportError` naming the setting; a plain file larger than ``max_bytes`` is
    refused too. A truncated or corrupt gzip file raises :class:`ExportError` naming the
    line in which its readable data stops.
    """
    if not name.lower().endswith(".gz"):
        if len(data) > max_bytes:
            raise ExportError(
                name, None, f"too large: {len(data)} bytes, more than {max_bytes} "
                "(max_export_bytes)",
            )  # fmt: skip
        return data
    try:
        return gunzip(data, max_bytes, max_ratio)
    except InflateError as exc:
        if exc.limit is not None:
            raise ExportError(name, None, f"too large: {exc}") from None
        raise ExportError(
            name, exc.lines + 1, "truncated or corrupt gzip file: the readable data stops in "
            "this line",
        ) from None  # fmt: skip


def _line_of_record(data: bytes, name: str, record_index: int) -> int:
    """Physical line (1-based) on which data record ``record_index`` (0-based) starts
    (error path only: the file is decoded and re-read with the csv module)."""
    reader = csv.reader(io.StringIO(_decode(data, name), newline=""))
    line, i = 1, 0
    for row in reader:
        if row:  # blank lines are no records (Arrow skips them too)
            if i == record_index + 3:
                return line
            i += 1
        line = reader.line_num + 1
    return line


def _too_long(name: str, line: int, max_cell: int, column: str | None) -> ExportError:
    return ExportError(
        name, line, f"cell too long: more than {max_cell} characters (max_cell_chars)", column
    )


def _row_error(data: bytes, name: str, names: list[str], max_cell: int) -> ExportError:
    """The error for the first row with a cell longer than ``max_cell`` characters or a
    field count other than the header's (error path only: Arrow's reader failed, also when
    a huge cell straddles its blocks; says nothing of the row's content)."""
    width = len(names)
    odd_quotes = data.count(b'"') % 2 == 1  # a quote is never closed somewhere
    reader = csv.reader(io.StringIO(_decode(data, name), newline=""))
    start = 1
    try:
        for row in reader:
            long = next((i for i, cell in enumerate(row) if len(cell) > max_cell), None)
            if long is not None:
                if odd_quotes and next(reader, None) is None:  # the cell runs to the end
                    return ExportError(
                        name, start, "unterminated quote: the cell runs to the end of the file",
                        _column(names, long),
                    )  # fmt: skip
                return _too_long(name, start, max_cell, _column(names, long))
            if len(row) != width and row:
                if len(row) > width:
                    return ExportError(
                        name, start, f"row has {len(row)} fields, header has {width} "
                        f"(extra field after the last column {names[-1]!r})",
                    )  # fmt: skip
                return ExportError(
                    name, start, f"row has {len(row)} fields, header has {width} "
                    "(truncated row or unterminated quote)", names[len(row)],
                )  # fmt: skip
            start = reader.line_num + 1
    except csv.Error:
        return ExportError(name, reader.line_num or start, "malformed CSV quoting")
    return ExportError(name, None, "malformed CSV data (rows could not be read)")


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ExportError(name, line, "undecodable bytes (not UTF-8)") from None


def _header(
    data: bytes, name: str, max_cell: int, max_columns: int
) -> tuple[list[str], list[str], list[dict], int, int]:
    if _blank(data):
        raise ExportError(name, 1, "empty file: expected three header rows")
    ends = _record_ends(data, 3)
    if len(ends) < 3:  # name the line on which the first missing row would start
        read = data[: ends[-1]] if ends else b""
        line = 1 + read.count(b"\n") + (0 if read.endswith(b"\n") or not read else 1)
        raise ExportError(
            name,
            line,
            f"expected three header rows (names, questions, ImportIds), found {len(ends)}",
        )
    rows = list(csv.reader(io.StringIO(_decode(data[: ends[2]], name), newline="")))
    if len(rows) != 3:
        raise ExportError(name, None, "could not read the three header rows")
    if len(rows[0]) > max_columns:  # checked first: wide files cost far more downstream
        raise ExportError(
            name, 1, f"too many columns: {len(rows[0])}, more than {max_columns} (max_columns)"
        )
    for i, row in enumerate(rows):
        too_long = [c for c, cell in enumerate(row) if len(cell) > max_cell]
        if too_long:
            line = 1 + data[: ends[i - 1]].count(b"\n") if i else 1
            raise ExportError(
                name, line, f"header cell too long: more than {max_cell} characters "
                "(max_cell_chars)", _column(rows[0], too_long[0]),
            )  # fmt: skip
    names, texts, meta_raw = rows
    if len(texts) != len(names) or len(meta_raw) != len(names):
        line = 1 + data[: ends[0]].count(b"\n") if len(texts) != len(names) else None
        raise ExportError(
            name, line, f"header rows have {len(names)}, {len(texts)}, {len(meta_raw)} columns"
        )
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise ExportError(name, 1, f"duplicate column names: {', '.join(dupes)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ExportError(name, 1, f"missing required column(s): {', '.join(missing)}")
    meta_line = 1 + data[: ends[1]].count(b"\n")
    meta: list[dict] = []
    for col, cell in zip(names, meta_raw, strict=True):
        try:
            obj = json.loads(cell) if cell else {}
        except json.JSONDecodeError as exc:
            raise ExportError(name, meta_line, f"row 3 of column {col!r} is not JSON") from exc
        if not isinstance(obj, dict):
            raise ExportError(name, meta_line, f"row 3 of column {col!r} is not a JSON object")
        meta.append(obj)
    return names, texts, meta, ends[2], meta_line


def _to_epoch(
    values: pa.ChunkedArray, zone: str, col: str, name: str, data: bytes, meta_line: int
) -> pa.Array:
    """Local ``YYYY-MM-DD HH:MM:SS`` strings in ``zone`` → int64 epoch seconds (missing → :data:`NAT`).

    Ambiguous fall-back hour: the first (daylight) reading; skipped spring-forward times
    shift forward to the first valid instant. Both are rare and deterministic.
    """
    parsed = pc.strptime(values, format=TIMESTAMP_FORMAT, unit="s", error_is_null=True)
    bad = pc.and_(pc.is_null(parsed), pc.is_valid(values))
    if pc.any(bad).as_py():
        idx = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0])
        raise ExportError(
            name,
            _line_of_record(data, name, idx),
            "unparseable timestamp (expected YYYY-MM-DD HH:MM:SS)",
            col,
        )
    if zone != "UTC":
        try:
            parsed = pc.assume_timezone(
                parsed, timezone=zone, ambiguous="earliest", nonexistent="latest"
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ExportError(name, meta_line, f"unknown time zone {zone!r} of {col}") from exc
    return pc.fill_null(pc.cast(parsed, pa.int64()), NAT)


def _waves(survey: pa.Array | pa.ChunkedArray, waves: dict[str, int]) -> pa.Array:
    """SurveyID → wave number (null when the SurveyID is unknown or missing)."""
    if not waves:
        return pa.nulls(len(survey), pa.int64())
    keys = pa.array(list(waves), pa.string())
    idx = pc.index_in(survey, value_set=keys)
    return pc.take(pa.array(list(waves.values()), pa.int64()), idx)


def _byte_lengths(table: pa.Table) -> dict[str, tuple[int | None, int | None]]:
    """The shortest and longest value of each column in bytes (None: no value)."""
    out = {}
    for c in table.column_names:
        bounds = pc.min_max(pc.binary_length(table.column(c)))
        out[c] = (bounds["min"].as_py(), bounds["max"].as_py())
    return out


def _check_cells(
    table: pa.Table,
    lengths: dict[str, tuple[int | None, int | None]],
    data: bytes,
    name: str,
    max_cell: int,
) -> None:
    """Refuse a data cell longer than ``max_cell`` characters (bytes are checked first:
    they bound the characters and cost nothing to count)."""
    for c in table.column_names:
        col = table.column(c)
        longest = lengths[c][1]
        if longest is None or longest <= max_cell:
            continue
        over = pc.fill_null(pc.greater(pc.utf8_length(col), max_cell), False)
        if pc.any(over).as_py():
            idx = int(np.flatnonzero(over.to_numpy(zero_copy_only=False))[0])
            line = _line_of_record(data, name, idx)
            raise _too_long(name, line, max_cell, c)


def parse_export(
    data: bytes,
    name: str,
    waves: dict[str, int],
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
    max_columns: int = DEFAULT_MAX_COLUMNS,
) -> ParsedExport:
    """Parse one export; raise :class:`ExportError` naming the file, line and column on
    bad input (NUL or undecodable bytes, bad header rows, more than ``max_columns``
    columns, ragged rows, cells longer than ``max_cell_chars``, unparseable timestamps)."""
    _check_bytes(data, name)
    names, texts, meta, offset, meta_line = _header(data, name, max_cell_chars, max_columns)
    types = {c: pa.string() for c in names}
    if _blank(data, offset):  # the three header rows and no data: a valid, empty export
        table = pa.table({c: pa.array([], pa.string()) for c in names})
    else:
        try:
            table = pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(data).slice(offset)),  # the body, not copied
                read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    null_values=NULL_TOKENS,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Arrow's message quotes the row (IP address, ResponseId): never pass it on.
            _check_bytes(data, name, utf8=True)
            raise _row_error(data, name, names, max_cell_chars) from None
    lengths = _byte_lengths(table)
    _check_cells(table, lengths, data, name, max_cell_chars)
    zones = {c: m.get("timeZone", "UTC") for c, m in zip(names, meta, strict=True)}
    n = table.num_rows
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for c in names:  # an empty quoted string is "not answered" too
        col = table.column(c)
        columns[c] = pc.if_else(pc.equal(col, ""), None, col) if lengths[c][0] == 0 else col
    for col in ("StartDate", "RecordedDate", "ResponseId"):
        missing = pc.is_null(columns[col])
        if pc.any(missing).as_py():
            idx = int(np.flatnonzero(missing.to_numpy(zero_copy_only=False))[0])
            raise ExportError(name, _line_of_record(data, name, idx), "empty cell", col)
    for col, target in (("StartDate", START), ("EndDate", END), ("RecordedDate", RECORDED)):
        if col in names:
            columns[target] = _to_epoch(columns[col], zones[col], col, name, data, meta_line)
        else:
            columns[target] = pa.array(np.full(n, NAT, dtype=np.int64))
    none = pa.nulls(n, pa.string())
    # Qualtrics (via spreadsheet-safe export) writes a token starting with '-' as '-…
    token = columns.get("token", none)
    columns[TOKEN] = pc.replace_substring_regex(token, pattern="^'-", replacement="-")
    survey = pc.utf8_trim_whitespace(columns.get("SurveyID", none))
    columns[SURVEY] = pc.if_else(pc.equal(survey, ""), None, survey)
    columns[WAVE] = _waves(columns[SURVEY], waves)
    wave_set = {w for w in pc.unique(columns[WAVE]).to_pylist()}
    return ParsedExport(
        name=name,
        columns=list(names),
        questions=dict(zip(names, texts, strict=True)),
        timezones={c: zones[c] for c in TIMESTAMP_COLUMNS if c in zones},
        table=pa.table(columns),
        waves=wave_set,
    )
