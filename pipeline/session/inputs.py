"""What the raw inputs of a session study share (SPEC §4.1, §6): the record type, the
error that names the place of a problem, UTF-8 decoding, and the kind of a drop file.

Messages name the file, the 1-based record number, the line and the column, never a value
of the input (SPEC §6).
"""

from __future__ import annotations

import json
import posixpath
from fnmatch import fnmatch
from typing import Any

Record = dict[str, Any]


class SessionInputError(ValueError):
    """A problem in a session input file: ``file[, record N][, line L[, column C]]: reason``.

    ``record`` is 1-based. An error with a ``record`` number concerns that record only
    (set aside, the file's other records go on); without one, the whole file. With
    ``placed``, ``message`` itself ends with the line and column, so the prefix leaves
    them out. Picklable (a run's stage results are).
    """

    def __init__(
        self,
        file: str,
        message: str,
        record: int | None = None,
        line: int | None = None,
        column: int | None = None,
        placed: bool = False,
    ) -> None:
        self.file, self.record, self.line, self.column, self.reason = (
            file, record, line, column, message,
        )  # fmt: skip
        self.placed = placed
        where = [file]
        if record is not None:
            where.append(f"record {record}")
        if line is not None and not placed:
            where.append(f"line {line}")
            if column is not None:
                where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        state = (self.file, self.reason, self.record, self.line, self.column, self.placed)
        return type(self), state

    @classmethod
    def not_json(
        cls, file: str, exc: json.JSONDecodeError, record: int | None = None
    ) -> SessionInputError:
        """The file is not JSON: the decoder's own message, which ends with the place
        (``Unterminated string starting at: line 14 column 20 (char 391)``); ``line``
        and ``column`` are set too. The decoder never quotes the input."""
        return cls(file, f"not JSON: {exc}", record, exc.lineno, exc.colno, placed=True)


def decode_input(data: bytes, file_name: str) -> str:
    """The text of a UTF-8 input (a byte order mark is dropped); undecodable bytes raise
    :class:`SessionInputError` with their line, column and byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise SessionInputError(
            file_name,
            f"undecodable bytes (not UTF-8) at byte {exc.start}",
            line=data.count(b"\n", 0, exc.start) + 1,
            column=exc.start - line_start + 1,
        ) from None


def line_of(text: str, pos: int) -> int:
    """1-based line of the character at ``pos``."""
    return text.count("\n", 0, pos) + 1


def input_kind(name: str) -> str | None:
    """Kind of a drop file by name (SPEC §4.1): ``responses``, ``rulings``, ``videos``."""
    base = posixpath.basename(name.replace("\\", "/")).lower()
    if fnmatch(base, "*.json"):
        return "responses"
    if fnmatch(base, "*consent*.csv"):
        return "rulings"
    if fnmatch(base, "*videos*.txt"):
        return "videos"
    return None
