"""The column model: simulated columns and their rendering to CSV fields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.panel.synth.layouts import NUMBER_RE


# --- column model -------------------------------------------------------------------------
@dataclass
class Fmt:
    quoting: str
    na: str

    def quote(self, s: str) -> str:
        """Quote one known value for the chosen quoting mode."""
        if self.quoting == "all":
            need = True
        elif self.quoting == "minimal":
            need = any(ch in s for ch in ',"\r\n') or (bool(self.na) and s == self.na)
        else:
            need = NUMBER_RE.fullmatch(s) is None
        return '"' + s.replace('"', '""') + '"' if need else s

    def quote_array(self, arr: pa.Array, numeric: bool = False) -> pa.Array:
        """Quote a string array as the mode says (numbers only under "all"); nulls → NA."""
        if self.quoting == "all":
            need = None
        elif numeric and self.quoting == "nonnumeric":
            return pc.fill_null(arr, self.na)
        elif self.quoting == "minimal":
            need = pc.match_substring_regex(arr, r'[",\r\n]')
            if self.na:
                need = pc.or_(need, pc.equal(arr, self.na))
        else:
            need = pc.invert(pc.match_substring_regex(arr, f"^{NUMBER_RE.pattern}$"))
        if need is None or pc.any(need).as_py():
            body = pc.replace_substring(arr, '"', '""')
            quoted = pc.binary_join_element_wise('"', body, '"', "")
            arr = quoted if need is None else pc.if_else(need, quoted, arr)
        return pc.fill_null(arr, self.na)


@dataclass
class Col:
    """One column of the simulated responses, rendered to CSV fields chunk by chunk."""

    kind: str  # "vocab" (codes into vocab, -1 missing) | "int" | "time" | "multi" | "bytes"
    data: np.ndarray
    vocab: tuple[str, ...] = ()
    missing: np.ndarray | None = None  # for "multi" and "bytes"
    none_code: int = 0  # for "multi"

    def blank(self, mask: np.ndarray) -> None:
        if self.kind == "vocab":
            self.data[mask] = -1
        elif self.kind in ("multi", "bytes"):
            self.missing = mask.copy() if self.missing is None else (self.missing | mask)
        else:
            raise TypeError(f"cannot blank a {self.kind} column")

    def present(self) -> np.ndarray:
        if self.kind == "vocab":
            return self.data >= 0
        return ~self.missing if self.missing is not None else np.ones(len(self.data), bool)

    def chose(self, code: int) -> np.ndarray:
        """Rows whose answer is ``code`` (for a multi-select, includes it; 0 = any but none)."""
        if self.kind == "multi":
            if code == 0:
                return self.present() & ~self.data[:, self.none_code - 1]
            return self.present() & self.data[:, code - 1]
        return self.data == self.vocab.index(str(code))


class Renderer:
    def __init__(self, fmt: Fmt) -> None:
        self.fmt = fmt
        self._vocab_cache: dict[int, pa.Array] = {}

    def field(self, col: Col, rows: np.ndarray, tz: str) -> pa.Array:
        fmt = self.fmt
        if col.kind == "vocab":
            key = id(col)
            if key not in self._vocab_cache:
                self._vocab_cache[key] = pa.array([fmt.quote(v) for v in col.vocab] + [fmt.na])
            codes = col.data[rows]
            codes = np.where(codes < 0, len(col.vocab), codes).astype(np.int32)
            return self._vocab_cache[key].take(pa.array(codes))
        if col.kind == "int":
            return fmt.quote_array(pc.cast(pa.array(col.data[rows]), pa.string()), numeric=True)
        if col.kind == "time":
            return self._time(col.data[rows], tz)
        if col.kind == "multi":
            bits = col.data[rows]
            row_of, code = np.nonzero(bits)
            counts = np.bincount(row_of, minlength=len(rows))
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            labels = pa.array([str(i + 1) for i in range(bits.shape[1])])
            values = labels.take(pa.array(code.astype(np.int32)))
            joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), ",")
            if col.missing is not None:
                joined = pc.if_else(
                    pa.array(col.missing[rows]), pa.nulls(len(rows), pa.string()), joined
                )
            return fmt.quote_array(joined)
        if col.kind == "bytes":
            mask = None if col.missing is None else col.missing[rows]
            arr = pa.array(col.data[rows], type=pa.binary(), mask=mask).cast(pa.string())
            return fmt.quote_array(arr)
        raise TypeError(col.kind)

    def _time(self, epochs: np.ndarray, tz: str) -> pa.Array:
        ts = pd.to_datetime(epochs, unit="s", utc=True)
        if tz != "UTC":
            ts = ts.tz_convert(tz)
        local = ts.tz_localize(None).to_numpy().astype("datetime64[s]")
        text = pc.cast(pa.array(local), pa.string())
        if self.fmt.quoting == "minimal":
            return text
        return pc.binary_join_element_wise('"', text, '"', "")

    def lines(
        self, cols: list[Col], rows: np.ndarray, tz: str, term: str
    ) -> tuple[bytes, np.ndarray]:
        """CSV rows for ``rows``: the bytes and the int64 offset of each row (plus the end)."""
        fields = [self.field(c, rows, tz) for c in cols]
        joined = pc.binary_join_element_wise(*fields, ",")
        joined = pc.binary_join_element_wise(joined, term, "")
        if isinstance(joined, pa.ChunkedArray):
            joined = joined.combine_chunks()
        kind = np.int64 if pa.types.is_large_string(joined.type) else np.int32
        offs = np.frombuffer(joined.buffers()[1], kind)[
            joined.offset : joined.offset + len(rows) + 1
        ]
        data = memoryview(joined.buffers()[2])[int(offs[0]) : int(offs[-1])]
        return bytes(data), offs.astype(np.int64) - int(offs[0])
