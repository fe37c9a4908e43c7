"""Writing the exports: delivery windows, headers, rendered rows; ``generate_panel``."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from pipeline.panel.synth.layouts import TIME_COLUMNS, WAVES, export_name, layout
from pipeline.panel.synth.model import Fmt, Renderer
from pipeline.panel.synth.options import SynthSpec
from pipeline.panel.synth.simulation import simulate


def generate_panel(
    out_dir: Path | str,
    start: date | str,
    days: int,
    per_day: int,
    seed: int = 0,
    *,
    timezone: str = "America/Los_Angeles",
    **options,
) -> list[Path]:
    """Write the exports of ``days * per_day`` responses into ``out_dir``; return the paths.

    The arguments are those of ``python -m pipeline synth --kind panel --out DIR --start
    YYYY-MM-DD --days N --per-day M [--seed S]``; ``options`` are further :class:`SynthSpec`
    fields (``na_token``, ``quoting``, ``bom``, ``pull_hour``, ``overlap_hours``,
    ``utc_export``, ``rates``, ...).
    """
    if isinstance(start, str):
        start = date.fromisoformat(start)
    spec = SynthSpec(
        start=start, days=days, per_day=per_day, seed=seed, timezone=timezone, **options
    )
    return write_panel(spec, Path(out_dir))


# --- writing ------------------------------------------------------------------------------
def _quoting(spec: SynthSpec) -> str:
    # Qualtrics quotes every value and leaves missing cells empty; the fixture (an R
    # re-export) quotes strings only and writes a bare NA.
    if spec.quoting:
        return spec.quoting
    return "nonnumeric" if spec.na_token else "all"


def _header(wave: int, tz: str, spec: SynthSpec) -> bytes:
    cols = layout(wave)
    meta = []
    for name, import_id, _text in cols:
        obj = {"ImportId": import_id}
        if name in TIME_COLUMNS:
            obj["timeZone"] = tz
        meta.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator=spec.line_terminator)
    w.writerow([c[0] for c in cols])
    w.writerow([c[2] for c in cols])
    w.writerow(meta)
    return ("\ufeff" if spec.bom else "").encode() + buf.getvalue().encode("utf-8")


def _deliveries(spec: SynthSpec, last_recorded: int) -> list[tuple[date, int]]:
    """(delivery day, pull time) from the day after the first start until all is delivered."""
    zone = ZoneInfo(spec.timezone)
    out: list[tuple[date, int]] = []
    day = spec.start
    while not out or out[-1][1] < last_recorded:
        day += timedelta(days=1)
        pull = datetime.combine(day, datetime.min.time(), zone).replace(hour=spec.pull_hour)
        out.append((day, int(pull.timestamp())))
    return out


CHUNK_ROWS = 1 << 17


def write_panel(spec: SynthSpec, out_dir: Path) -> list[Path]:
    """Simulate the panel of ``spec`` and write its exports into ``out_dir``."""
    panel = simulate(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    fmt = Fmt(_quoting(spec), spec.na_token)
    renderer = Renderer(fmt)
    deliveries = _deliveries(spec, int(panel.recorded.max()))
    overlap = spec.overlap_hours * 3600

    # which rows each (delivery, wave) file holds: a slice of the wave's rows by RecordedDate
    plans: list[tuple[int, int, np.ndarray, list[tuple[int, int, int]]]] = []
    for wave in WAVES:
        rows = np.flatnonzero(panel.wave == wave)
        rows = rows[np.argsort(panel.recorded[rows], kind="stable")]
        rec = panel.recorded[rows]
        slices = []
        for k, (_day, pull) in enumerate(deliveries):
            lo = 0 if k == 0 else int(np.searchsorted(rec, deliveries[k - 1][1] - overlap, "right"))
            hi = int(np.searchsorted(rec, pull, "right"))
            if hi > lo:
                slices.append((k, lo, hi))
        plans.append((wave, len(rows), rows, slices))
    # The UTC export: the biggest file of the ``utc_export``-th delivery day.
    utc_file: tuple[int, int] | None = None  # (delivery, wave)
    candidates = [
        (hi - lo, -w, k) for w, _n, _r, sl in plans for k, lo, hi in sl if k == spec.utc_export
    ]
    if candidates:
        _size, neg_wave, k = max(candidates)
        utc_file = (k, -neg_wave)

    written: list[Path] = []
    for wave, count, rows, slices in plans:
        if not slices:
            continue
        cols = [panel.cols[c] for c, _i, _t in layout(wave)]
        parts, offsets, base = [], [np.zeros(1, np.int64)], 0
        for lo in range(0, count, CHUNK_ROWS):
            data, offs = renderer.lines(
                cols, rows[lo : lo + CHUNK_ROWS], spec.timezone, spec.line_terminator
            )
            parts.append(data)
            offsets.append(offs[1:] + base)
            base += len(data)
        body = memoryview(b"".join(parts))
        offs = np.concatenate(offsets)
        local_header = _header(wave, spec.timezone, spec)
        for k, lo, hi in slices:
            path = out_dir / export_name(deliveries[k][0], wave)
            with open(path, "wb") as fh:
                if utc_file == (k, wave):
                    data, _ = renderer.lines(cols, rows[lo:hi], "UTC", spec.line_terminator)
                    fh.write(_header(wave, "UTC", spec))
                    fh.write(data)
                else:
                    fh.write(local_header)
                    fh.write(body[int(offs[lo]) : int(offs[hi])])
            written.append(path)
    return sorted(written)
