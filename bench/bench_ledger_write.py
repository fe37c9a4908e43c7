"""Benchmark (not a test): a first run's ledger write on SQLite, direct or staged by a process.

    python bench/bench_ledger_write.py [--rows 1000000]

Writes N rows of the ledger (``pipeline/state/schema.py``) into a fresh SQLite state
database two ways, each in a child process of its own:

* direct: ``StateStore.commit``, which binds the rows with ``executemany``
  (``INSERT OR REPLACE``) in its committing thread;
* staged: the path ``pipeline/state/bulk.py`` took until it was measured here: a worker
  process (started and warmed up first, as a run did when it fetched a large delivery)
  writes the key-sorted rows from an Arrow file into a scratch SQLite file, then the commit
  copies them with one ``INSERT OR REPLACE ... SELECT`` from the attached file.

Each way runs twice: alone (the commit's wall time) and next to a thread doing pure-Python
work, as a run's publishing does while its ledger is written; the share of that thread's
idle speed it keeps shows how much of the GIL the write takes. Prints seconds, rows/s,
CPU seconds (both processes; the write is sequential either way, so on a busy machine
they are the steadier figure), peak RSS of the child's process tree (sampled every 50 ms)
and the ratios.

Measured (1M rows; 2-core machine shared with other work, load 0.7-6): alone, staged/direct
wall 1.00, 0.67, 0.90, 0.76 and CPU 0.85, 0.72, 0.93, 0.73 (the last on a quiet machine).
Next to a pure-Python spin the direct write hits a GIL convoy (sqlite3 releases the GIL for
every row): 40-48 s on a busy machine, 578 s on a quiet one, against 10-26 s staged. Whole
1M-response first runs, whose publishing releases the GIL often, do not show it: their
commit took 9.7-14.7 s direct and 9.2-14.3 s staged, the run waited <= 0.2 s for it either
way (it overlaps publishing), and run walls differed by 0-4 s of 24-37 s. Staging saved
well under a quarter of a first run's commit: it was removed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
from calibrate import machine_line  # bench/, the script folder, is on sys.path
from measure import tree_rss_kb

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


# --- the staged path, as pipeline/state/bulk.py and StateStore._staged had it -------------
def stage_rows(arrow_path: str, db_path: str) -> float:
    """In the worker: the rows of an Arrow file into a new journal-less SQLite file;
    returns the CPU seconds it took."""
    cpu = time.process_time()
    table = feather.read_table(arrow_path, memory_map=True)
    names = table.column_names
    con = sqlite3.connect(db_path)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute(f"CREATE TABLE rows ({', '.join(_quote(c) for c in names)})")
        sql = f"INSERT INTO rows VALUES ({', '.join('?' for _ in names)})"
        for batch in table.to_batches(50_000):
            cols = [python_values(batch.column(i)) for i in range(batch.num_columns)]
            con.executemany(sql, zip(*cols, strict=True))
        con.commit()
    finally:
        con.close()
    return time.process_time() - cpu


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def staged_write(store: StateStore, rows: pa.Table, pool: ProcessPoolExecutor) -> float:
    """The staged write; returns the worker's CPU seconds."""
    db_file = store.sqlite_file()
    assert db_file is not None
    folder = Path(tempfile.mkdtemp(prefix=".stage-", dir=Path(db_file).parent))
    try:
        arrow, db = folder / "rows.arrow", folder / "rows.sqlite"
        ordered = rows.take(pc.sort_indices(rows, sort_keys=[("token", "ascending")]))
        feather.write_feather(ordered, arrow, compression="uncompressed")
        worker_cpu = pool.submit(stage_rows, str(arrow), str(db)).result()
        cols = ", ".join(_quote(c) for c in rows.column_names)
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # as the run's commit
            conn.exec_driver_sql("ATTACH DATABASE ? AS staged", (str(db),))
            conn.commit()
            with conn.begin():
                conn.exec_driver_sql(
                    f"INSERT OR REPLACE INTO ledger ({cols}) "
                    f"SELECT {cols} FROM staged.rows ORDER BY rowid"
                )
            conn.exec_driver_sql("DETACH DATABASE staged")
            conn.commit()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return worker_cpu


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
        pool = None
        if way == "staged":
            t = time.perf_counter()
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            pool.submit(stage_rows, *_tiny(folder)).result()  # start, import pyarrow, sqlite3
            out["warm_up_s"] = time.perf_counter() - t
        changes = RunChanges(run_id="r1", as_of="2021-07-07T12:00:00+00:00",
                             recorded="2021-07-07", ledger_rows=rows)  # fmt: skip

        def write() -> None:
            if pool is None:
                store.commit(changes)  # binds the rows in its committing thread
            else:
                out["worker_cpu_s"] = staged_write(store, rows, pool)

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
            out["cpu_s"] = time.process_time() - cpu + out.get("worker_cpu_s", 0.0)
        with sqlite3.connect(folder / "state.db") as con:
            out["rows"] = con.execute("SELECT count(*) FROM ledger").fetchone()[0]
        if pool is not None:
            pool.shutdown()
        store.dispose()
        for thread in threading.enumerate():  # the WAL checkpoint the commit left running
            if thread is not threading.current_thread():
                thread.join()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _tiny(folder: Path) -> tuple[str, str]:
    path = folder / "tiny.arrow"
    feather.write_feather(ledger_table(10, seed=2), path, compression="uncompressed")
    return str(path), str(folder / "tiny.sqlite")


# --- the parent ---------------------------------------------------------------------------
def run_child(way: str, n: int, busy: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", way, "--rows", str(n)] + (["--busy"] * busy)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kb(proc.pid))
        time.sleep(0.05)
    if proc.returncode:
        raise SystemExit(f"{way}: child failed with exit code {proc.returncode}")
    assert proc.stdout is not None
    return json.loads(proc.stdout.read().splitlines()[-1]) | {"tree_mb": peak / 1024}


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
    res = {(w, b): run_child(w, args.rows, b) for w in ("direct", "staged") for b in (False, True)}
    for (way, busy), r in res.items():
        assert r["rows"] == args.rows, r
        if busy:
            extra = f", Python thread kept {r['python_kept']:.0%} of its idle speed"
        else:
            extra = f", CPU {r['cpu_s']:.2f} s" + (" (both processes)" if way == "staged" else "")
        if "warm_up_s" in r:
            extra += f", worker warm-up {r['warm_up_s']:.1f} s (not counted)"
        print(f"{way:<7} {'next to Python work' if busy else 'alone':<20} "
              f"{r['seconds']:6.2f} s  {args.rows / r['seconds']:>9,.0f} rows/s  "
              f"peak RSS {r['tree_mb']:,.0f} MB (tree){extra}", flush=True)  # fmt: skip
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
