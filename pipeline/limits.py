"""Bounds on what one input file may cost (SPEC §6: input is bounded).

An export over a limit is quarantined with a one-line reason naming the file and the
setting; it never takes the night down. The limits are configuration keys (README,
"Configuration"); the defaults are far above any real Qualtrics export:

- ``max_columns`` (5000): columns of one export, checked on its first row before any data
  row is read. The later stages' cost grows faster than linearly with the number of
  columns (a 100,000-column export of three rows kept a night busy for over ten minutes).
- ``max_export_bytes`` (1 GiB): uncompressed bytes of one export. This is the memory bound
  per file: parsing holds the uncompressed bytes and the Arrow table made from them, a
  small multiple of this (about three times), and never more, since a gzip file is
  inflated in bounded steps and abandoned as soon as it passes the limit.
- ``max_compression_ratio`` (100): uncompressed / compressed size of a gzip export, checked
  while inflating once the output passes :data:`RATIO_FLOOR`. Real exports compress 3 to
  10 times; a gzip bomb (zeros) about 1000 times, so it is stopped after reading a
  hundredth of what it would expand to.
- ``max_cell_chars`` (32767): characters of one cell (header or data).
"""

from __future__ import annotations

import zlib

DEFAULT_MAX_COLUMNS = 5000
DEFAULT_MAX_EXPORT_BYTES = 1 << 30
DEFAULT_MAX_COMPRESSION_RATIO = 100
# Output below this size is never judged by its ratio: small, very repetitive files
# (a header-only export, a few rows of empty answers) may compress well.
RATIO_FLOOR = 16 << 20
_IN_CHUNK = 64 << 10  # compressed bytes fed to zlib at a time
_OUT_CHUNK = 4 << 20  # most uncompressed bytes produced per zlib call


class InflateError(ValueError):
    """A gzip file that cannot be inflated: over a limit (``limit`` names the setting), or
    truncated or corrupt (``limit`` is None). ``lines``: line breaks inflated before."""

    def __init__(self, message: str, lines: int, limit: str | None = None) -> None:
        super().__init__(message)
        self.lines, self.limit = lines, limit


def shown(name: str) -> str:
    """A file name as messages and log lines show it: as it is when printable, otherwise
    quoted with Python's escapes (``'a\\nb.csv'``), so a name never splits a line."""
    return name if name.isprintable() else repr(name)


def gunzip(data: bytes, max_bytes: int, max_ratio: float) -> bytes:
    """The inflated content of a gzip file (every member), bounded while inflating.

    zlib produces at most :data:`_OUT_CHUNK` bytes per call (``max_length``), so memory
    never holds more than ``max_bytes`` (plus one step) of output, whatever the input.
    Raises :class:`InflateError` when the output would pass ``max_bytes``, or pass
    ``max_ratio`` times ``len(data)`` beyond :data:`RATIO_FLOOR`, or when the data is
    truncated or corrupt.
    """
    by_ratio = max(RATIO_FLOOR, int(len(data) * max_ratio))
    budget = min(max_bytes, by_ratio)
    parts: list[bytes] = []
    produced = pos = 0
    try:
        while pos < len(data):  # one gzip member per pass
            member = zlib.decompressobj(wbits=31)
            pending = b""
            while not member.eof:
                if not pending and pos < len(data):
                    pending = data[pos : pos + _IN_CHUNK]
                    pos += len(pending)
                out = member.decompress(pending, min(_OUT_CHUNK, budget - produced + 1))
                pending = member.unconsumed_tail
                if not out and not pending and pos >= len(data) and not member.eof:
                    raise InflateError("truncated gzip file", _lines(parts))
                produced += len(out)
                if produced > budget:
                    if budget == max_bytes:
                        raise InflateError(
                            f"expands to more than {max_bytes} bytes (max_export_bytes)",
                            _lines(parts), "max_export_bytes",
                        )  # fmt: skip
                    raise InflateError(
                        f"expands more than {max_ratio:g} times its {len(data)} compressed "
                        "bytes (max_compression_ratio)", _lines(parts), "max_compression_ratio",
                    )  # fmt: skip
                parts.append(out)
            pos -= len(member.unused_data)
    except zlib.error:
        raise InflateError("corrupt gzip data", _lines(parts)) from None
    return b"".join(parts)


def _lines(parts: list[bytes]) -> int:
    """Newlines in what inflated so far (counted only when an error names its line)."""
    return sum(p.count(b"\n") for p in parts)
