"""Parsing of Qualtrics CSV exports (SPEC §3.1) into one normalised frame per file.

An export has three header rows (column names, question texts, one JSON ImportId object
per column) followed by data rows. Question texts may hold newlines and commas, so rows
are records, not lines; errors name the physical line of the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

TIMESTAMP_COLUMNS = ("StartDate", "EndDate", "RecordedDate")
REQUIRED_COLUMNS = ("StartDate", "RecordedDate", "ResponseId")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
NULL_TOKENS = ["", "NA"]
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
    """A malformed export; the message names the file and the line."""

    def __init__(self, name: str, line: int | None, message: str) -> None:
        self.name, self.line = name, line
        where = f"{name}, line {line}" if line else name
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


def _record_ends(data: bytes, count: int) -> list[int]:
    """Byte offsets just past each of the first ``count`` CSV records (quote-aware)."""
    ends: list[int] = []
    in_quotes = False
    for m in _QUOTE_OR_NL.finditer(data):
        if m.group() == b'"':
            in_quotes = not in_quotes
        elif not in_quotes:
            ends.append(m.end())
            if len(ends) == count:
                break
    return ends


def _line_of_record(data: bytes, name: str, record_index: int) -> int:
    """Physical line (1-based) on which data record ``record_index`` (0-based) starts
    (error path only: the file is decoded and re-read with the csv module)."""
    reader = csv.reader(io.StringIO(_decode(data, name), newline=""))
    line = 1
    for i, _row in enumerate(reader):
        if i == record_index + 3:
            return line
        line = reader.line_num + 1
    return line


def _first_ragged_line(data: bytes, name: str, width: int) -> tuple[int, int]:
    reader = csv.reader(io.StringIO(_decode(data, name), newline=""))
    start = 1
    for row in reader:
        if len(row) != width and row:
            return start, len(row)
        start = reader.line_num + 1
    return start, width


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ExportError(name, line, f"undecodable bytes (not UTF-8) at byte {exc.start}") from exc


def _header(data: bytes, name: str) -> tuple[list[str], list[str], list[dict], int, int]:
    ends = _record_ends(data, 3)
    if len(ends) < 3:
        raise ExportError(name, None, "expected three header rows (names, questions, ImportIds)")
    rows = list(csv.reader(io.StringIO(_decode(data[: ends[2]], name), newline="")))
    if len(rows) != 3:
        raise ExportError(name, None, "could not read the three header rows")
    names, texts, meta_raw = rows
    if len(texts) != len(names) or len(meta_raw) != len(names):
        line = 1 + data[: ends[0]].count(b"\n") if len(texts) != len(names) else None
        raise ExportError(
            name, line, f"header rows have {len(names)}, {len(texts)}, {len(meta_raw)} columns"
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
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
            f"unparseable {col} timestamp {values[idx].as_py()!r}",
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


def parse_export(data: bytes, name: str, waves: dict[str, int]) -> ParsedExport:
    """Parse one export; raise :class:`ExportError` naming the file and line on bad input."""
    names, texts, meta, offset, meta_line = _header(data, name)
    body = data[offset:]
    types = {c: pa.string() for c in names}
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=NULL_TOKENS,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        _decode(data, name)  # undecodable bytes: name the line of the first bad byte
        line, got = _first_ragged_line(data, name, len(names))
        raise ExportError(
            name, line, f"row has {got} fields, header has {len(names)} ({exc})"
        ) from exc
    zones = {c: m.get("timeZone", "UTC") for c, m in zip(names, meta, strict=True)}
    n = table.num_rows
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for c in names:  # an empty quoted string is "not answered" too
        col = table.column(c)
        empty = pc.equal(col, "")
        columns[c] = pc.if_else(empty, None, col) if pc.any(empty).as_py() else col
    for col in ("StartDate", "RecordedDate", "ResponseId"):
        missing = pc.is_null(columns[col])
        if pc.any(missing).as_py():
            idx = int(np.flatnonzero(missing.to_numpy(zero_copy_only=False))[0])
            raise ExportError(name, _line_of_record(data, name, idx), f"empty {col}")
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
