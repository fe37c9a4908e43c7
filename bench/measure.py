"""Shared measuring for the benchmark scripts: a child process timed with the peak memory of
its whole process tree, and the floor every figure is compared with.

The floor (issue 14): pyarrow reading the same exports and writing the same number of rows
as CSV, gzipped at the pipeline's level, measured in the same run; a benchmark prints its
figure as a ratio to it, so figures compare across machines.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.gzmembers import GZIP_LEVEL  # noqa: E402


@dataclass(frozen=True)
class Measured:
    """One timed child process."""

    wall: float  # seconds
    tree_peak_mb: float  # peak of the summed RSS of the process and its descendants
    returncode: int


def run_child(cmd: Sequence[str], **popen: object) -> Measured:
    """Run ``cmd``; sample the process tree's summed RSS every 50 ms (a very short spike
    can be missed; the largest process's own peak is in ``resource.RUSAGE_CHILDREN``)."""
    t = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=ROOT, **popen)  # type: ignore[call-overload]
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kb(proc.pid))
        time.sleep(0.05)
    return Measured(time.perf_counter() - t, peak / 1024, proc.returncode)


class TreePeak:
    """The peak summed RSS (MB) of this process and its descendants (an sshd it started,
    say), sampled every 50 ms by a thread while the ``with`` block runs."""

    def __init__(self) -> None:
        self.mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.mb = max(self.mb, tree_rss_kb(os.getpid()) / 1024)
            if self._done.wait(0.05):
                return


def tree_rss_kb(root: int) -> int:
    """Summed resident memory (kB) of ``root`` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * resource.getpagesize()
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier and p not in tree]
        tree.update(kids)
        frontier = kids
    return sum(rss.get(p, 0) for p in tree) // 1024


def floor_seconds(exports: Sequence[Path | bytes], rows_out: int, header_rows: int = 3) -> float:
    """The floor: read every export with pyarrow (``header_rows`` rows of names and labels;
    Qualtrics exports have three), then write ``rows_out`` rows of those columns as CSV and
    gzip them at the pipeline's level. An export is a path (``.gz`` is decompressed) or the
    file's bytes."""
    t = time.perf_counter()
    tables = []
    for export in exports:
        data = export if isinstance(export, bytes) else export.read_bytes()
        if isinstance(export, Path) and export.suffix == ".gz":
            data = gzip.decompress(data)
        names = next(csv.reader(io.StringIO(data[: data.index(b"\n")].decode())))
        tables.append(
            pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(skip_rows_after_names=header_rows - 1),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names}, strings_can_be_null=True
                ),
            )
        )
    table = pa.concat_tables(tables, promote_options="permissive")
    if table.num_rows:
        repeat = -(-rows_out // table.num_rows)
        table = pa.concat_tables([table] * repeat).slice(0, rows_out)
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    gzip.compress(sink.getvalue(), compresslevel=GZIP_LEVEL, mtime=0)
    return time.perf_counter() - t


def report(what: str, rows: int, measured: Measured, floor: float) -> str:
    """The benchmark line: rows/s, seconds, peak tree memory and the ratio to the floor."""
    return (
        f"{what}: {rows:,} rows, {measured.wall:.1f} s, {rows / measured.wall:,.0f} rows/s, "
        f"peak RSS {measured.tree_peak_mb:,.0f} MB (process tree), "
        f"{measured.wall / floor:.1f}x the floor ({floor:.1f} s)"
    )


def study_config(work: Path, **keys: object) -> Path:
    """A study file ``work/config.yaml`` whose drop, publish, CID, archive folders and SQLite
    state are under ``work``; ``keys`` add or override keys. Returns its path."""
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": str(work / "drop"), "publish": str(work / "publish"),
        "cid_out": str(work / "cids"), "archive": str(work / "archive"),
        "state": f"sqlite:///{work / 'state.db'}", **keys,
    }))  # fmt: skip
    return config


def run_pipeline(config: Path, as_of: str) -> Measured:
    """One ``python -m pipeline run`` in a child process, timed with its process tree's peak;
    exits the benchmark when the run fails."""
    measured = run_child(
        [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--as-of", as_of],
        stdout=subprocess.DEVNULL,
    )
    if measured.returncode:
        raise SystemExit(f"run failed with exit code {measured.returncode}")
    return measured


def published_rows(publish: Path) -> int:
    """Rows in the newest version of every published day file (plain or gzipped)."""
    newest: dict[str, Path] = {}
    for p in sorted(publish.glob("cvid_responses_*_recordedby_*.csv*")):
        newest[p.name.split("_recordedby_")[0]] = p

    def lines(p: Path) -> int:
        data = p.read_bytes()
        return (gzip.decompress(data) if p.suffix == ".gz" else data).count(b"\n")

    return sum(lines(p) - 1 for p in newest.values())


@contextmanager
def work_folder(prefix: str, keep: bool) -> Iterator[Path]:
    """A temporary folder for a benchmark's data, removed afterwards unless ``keep``."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
