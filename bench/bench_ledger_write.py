"""Benchmark (not a test): a first run's ledger write on SQLite, bound row by row or staged.

    python bench/bench_ledger_write.py [--rows 1000000]

Writes N rows of the ledger (``pipeline/state/schema.py``) into a fresh SQLite state
database two ways, each in a child process of its own:

* direct: ``INSERT OR REPLACE`` through the driver's ``executemany``, binding Python values
  (what ``pipeline.state.upsert.upsert`` does for small writes; what a first run did until measured
  here);
* staged: ``StateStore.commit``, which stages large Arrow tables with the Arrow ADBC SQLite
  driver into a scratch file and copies them with one ``INSERT OR REPLACE ... SELECT`` from
  the attached file (``pipeline/state/bulk.py``; a run stages while its days render).

Each way runs twice: alone (the commit's wall time) and next to a thread doing pure-Python
work, as a run's publishing does while its ledger is written; the share of that thread's
idle speed it keeps shows how much of the GIL the write takes. Prints seconds, rows/s, CPU
seconds, peak RSS of the child's process tree (sampled every 50 ms), the ratio to the floor
(pyarrow reading the same rows as CSV and writing them back, gzipped) and staged/direct.

Measured (1M rows, 2-core machine, `machine: 10M-step Python loop 0.50 s`): ADBC ingest
2.2 s + INSERT ... SELECT 2.3 s against 8.8 s of executemany (plus 2.0 s making the Python
values); the ADBC ingest releases the GIL (a pure-Python thread beside it kept its speed).
A whole 1M-response first run's publish step went from 20 s to 10 s with it.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from calibrate import machine_line  # bench/, the script folder, is on sys.path
from measure import Measured, floor_seconds, report, run_child

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.state.bulk import python_values  # noqa: E402
from pipeline.state.store import RunChanges, StateStore  # noqa: E402

ALNUM = np.frombuffer(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", np.uint8)


def ledger_table(n: int, seed: int = 1) -> pa.Table:
    """N ledger rows in random token order, shaped like a first run's (30 days, 17-character
    tokens and response ids, a third excluded, most on time and waiting for a CID list)."""
    rng = np.random.default_rng(seed)

    def strings(prefix: bytes, width: int) -> pa.Array:
        chars = np.empty((n, len(prefix) + width), np.uint8)
        chars[:, : len(prefix)] = np.frombuffer(prefix, np.uint8)
        chars[:, len(prefix) :] = ALNUM[rng.integers(0, len(ALNUM), size=(n, width))]
        offsets = np.arange(n + 1, dtype=np.int32) * chars.shape[1]
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars))

    days = np.array([f"2021-06-{d:02d}" for d in range(1, 31)], dtype=object)
    day = days[rng.integers(0, 30, size=n)]
    start = rng.integers(1_622_505_600, 1_625_097_600, size=n)
    eligible = rng.random(n) > 0.3
    reasons = np.array(["preview", "screened", "too_few", "outside_us"], dtype=object)
    reason = np.where(eligible, None, reasons[rng.integers(0, 4, size=n)])
    on_time = np.where(rng.random(n) < 0.9, day, None)
    return pa.table({
        "token": strings(b"", 17),
        "response_id": strings(b"R_", 15),
        "start": pa.array(start),
        "recorded": pa.array(start + rng.integers(60, 3600, size=n)),
        "day": pa.array(day, pa.string()),
        "eligible": pa.array(eligible),
        "reason": pa.array(reason, pa.string()),
        "on_time_day": pa.array(on_time, pa.string()),
        "cid_day": pa.nulls(n, pa.string()),
        "cid_pending": pa.array(eligible & (on_time != None)),  # noqa: E711 (elementwise)
    })  # fmt: skip


# --- the direct path ------------------------------------------------------------------
def direct_write(store: StateStore, rows: pa.Table) -> None:
    """All rows bound through the driver's executemany, in one transaction."""
    names = rows.column_names
    cols = ", ".join(f'"{c}"' for c in names)
    sql = f"INSERT OR REPLACE INTO ledger ({cols}) VALUES ({', '.join('?' for _ in names)})"
    ordered = rows.take(pc.sort_indices(rows, sort_keys=[("token", "ascending")]))
    values = zip(*(python_values(ordered.column(c)) for c in names), strict=True)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # as the run's commit
        conn.commit()
        with conn.begin():
            conn.connection.dbapi_connection.cursor().executemany(sql, values)


# --- one way, in a child process ---------------------------------------------------------
def _spin(steps: int) -> None:
    total = 0
    for i in range(steps):
        total += i


def child(way: str, n: int, busy: bool) -> dict:
    rows = ledger_table(n)
    folder = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    out: dict = {"way": way, "busy": busy}
    try:
        store = StateStore(f"sqlite:///{folder / 'state.db'}")
        changes = RunChanges(run_id="r1", as_of="2021-07-07T12:00:00+00:00",
                             recorded="2021-07-07", ledger_rows=rows, scratch=str(folder))  # fmt: skip

        def write() -> None:
            if way == "direct":
                direct_write(store, rows)
            else:
                store.commit(changes)  # staged by the ADBC driver, then INSERT ... SELECT

        slice_ = 20_000
        if busy:
            t, steps = time.perf_counter(), 0
            while time.perf_counter() - t < 1.0:
                _spin(slice_)
                steps += slice_
            idle_rate = steps / (time.perf_counter() - t)
            writer = threading.Thread(target=write)
            t, steps = time.perf_counter(), 0
            writer.start()
            while writer.is_alive():
                _spin(slice_)
                steps += slice_
            out["seconds"] = time.perf_counter() - t
            out["python_kept"] = steps / out["seconds"] / idle_rate
        else:
            t, cpu = time.perf_counter(), time.process_time()
            write()
            out["seconds"] = time.perf_counter() - t
            out["cpu_s"] = time.process_time() - cpu
        with sqlite3.connect(folder / "state.db") as con:
            out["rows"] = con.execute("SELECT count(*) FROM ledger").fetchone()[0]
        store.dispose()
        for thread in threading.enumerate():  # the WAL checkpoint the commit left running
            if thread is not threading.current_thread():
                thread.join()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


# --- the parent ---------------------------------------------------------------------------
def ledger_floor(n: int) -> float:
    """The floor for ``n`` ledger rows: pyarrow reading them as CSV and writing them as CSV,
    gzipped (``measure.floor_seconds``; making the CSV is not timed)."""
    sink = io.BytesIO()
    pacsv.write_csv(ledger_table(n), sink)
    return floor_seconds([sink.getvalue()], n, header_rows=1)


def run_way(way: str, n: int, busy: bool) -> dict:
    """One way in a child process: its figures, with the child's process-tree peak."""
    cmd = [sys.executable, __file__, "--child", way, "--rows", str(n)] + (["--busy"] * busy)
    with tempfile.TemporaryFile() as out:
        measured = run_child(cmd, stdout=out)
        if measured.returncode:
            raise SystemExit(f"{way}: child failed with exit code {measured.returncode}")
        out.seek(0)
        figures = json.loads(out.read().decode().splitlines()[-1])
    return figures | {"tree_mb": measured.tree_peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["direct", "staged"])
    parser.add_argument("--busy", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.busy)))
        return
    print(machine_line(), flush=True)
    print(f"{args.rows:,} ledger rows into a fresh SQLite file (WAL, synchronous=NORMAL)")
    res = {(w, b): run_way(w, args.rows, b) for w in ("direct", "staged") for b in (False, True)}
    floor = ledger_floor(args.rows)
    for (way, busy), r in res.items():
        assert r["rows"] == args.rows, r
        if busy:
            extra = f"; Python thread kept {r['python_kept']:.0%} of its idle speed"
        else:
            extra = f"; CPU {r['cpu_s']:.2f} s"
        what = f"{way} {'next to Python work' if busy else 'alone'}"
        print(report(what, args.rows, Measured(r["seconds"], r["tree_mb"], 0), floor) + extra)
    for busy in (False, True):
        d, s = res["direct", busy], res["staged", busy]
        line = (f"staged/direct ({'next to Python work' if busy else 'alone'}): "
                f"time {s['seconds'] / d['seconds']:.2f}")  # fmt: skip
        if busy:
            # seconds of the Python thread's work the write cost it (GIL held by the write)
            lost = [r["seconds"] * (1 - r["python_kept"]) for r in (d, s)]
            line += f", Python thread lost {lost[0]:.1f} s (direct) vs {lost[1]:.1f} s (staged)"
        else:  # the write is sequential both ways: its CPU time is its time on an idle machine
            line += f", CPU {s['cpu_s'] / d['cpu_s']:.2f}"
        print(line + f", peak RSS {s['tree_mb'] / d['tree_mb']:.2f}")


if __name__ == "__main__":
    main()
