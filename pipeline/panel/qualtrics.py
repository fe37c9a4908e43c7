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
from zoneinfo import ZoneInfo

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
    frame: pd.DataFrame
    waves: set[int | None] = field(default_factory=set)


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


def _header(data: bytes, name: str) -> tuple[list[str], list[str], list[dict], int]:
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
    return names, texts, meta, ends[2]


def _to_epoch(values: pa.ChunkedArray, zone: str, col: str, name: str, data: bytes) -> np.ndarray:
    """Local ``YYYY-MM-DD HH:MM:SS`` strings in ``zone`` → int64 epoch seconds (NaT → min int)."""
    s = values.to_pandas(types_mapper=_STRING_TYPES.get)
    parsed = pd.to_datetime(s, format=TIMESTAMP_FORMAT, errors="coerce")
    bad = parsed.isna() & s.notna()
    if bad.any():
        idx = int(np.flatnonzero(bad.to_numpy())[0])
        raise ExportError(
            name, _line_of_record(data, name, idx), f"unparseable {col} timestamp {s.iloc[idx]!r}"
        )
    if zone != "UTC":
        # Ambiguous fall-back hour: take the first (daylight) reading; skipped spring-forward
        # times shift forward. Both are rare and deterministic.
        parsed = parsed.dt.tz_localize(ZoneInfo(zone), ambiguous=True, nonexistent="shift_forward")
    else:
        parsed = parsed.dt.tz_localize("UTC")
    out = parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[s]")
    return out.to_numpy().astype("int64")


NAT = np.iinfo(np.int64).min


def parse_export(data: bytes, name: str, waves: dict[str, int]) -> ParsedExport:
    """Parse one export; raise :class:`ExportError` naming the file and line on bad input."""
    names, texts, meta, offset = _header(data, name)
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
    # An empty quoted string is "not answered" too.
    table = pa.table(
        {c: pc.if_else(pc.equal(table.column(c), ""), None, table.column(c)) for c in names}
    )
    frame = table.to_pandas(types_mapper=_STRING_TYPES.get)
    for col, target in (("StartDate", START), ("EndDate", END), ("RecordedDate", RECORDED)):
        if col in names:
            frame[target] = _to_epoch(table.column(col), zones[col], col, name, data)
        else:
            frame[target] = NAT
    for col in ("StartDate", "RecordedDate", "ResponseId"):
        missing = frame[col].isna().to_numpy()
        if missing.any():
            idx = int(np.flatnonzero(missing)[0])
            raise ExportError(name, _line_of_record(data, name, idx), f"empty {col}")
    token = (
        frame["token"] if "token" in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
    )
    # Qualtrics (via spreadsheet-safe export) writes a token starting with '-' as '-…
    frame[TOKEN] = token.str.replace(r"^'(?=-)", "", regex=True)
    survey = (
        frame["SurveyID"]
        if "SurveyID" in frame
        else pd.Series(pd.NA, index=frame.index, dtype="string")
    )
    frame[SURVEY] = survey.str.strip().replace("", pd.NA)
    frame[WAVE] = frame[SURVEY].map(waves).astype("Int64")
    wave_set = {None if pd.isna(w) else int(w) for w in frame[WAVE].unique()}
    return ParsedExport(
        name=name,
        columns=list(names),
        questions=dict(zip(names, texts, strict=True)),
        timezones={c: zones[c] for c in TIMESTAMP_COLUMNS if c in zones},
        frame=frame,
        waves=wave_set,
    )
