"""Benchmark (not a test): does the nightly cost grow with history? (SPEC §3.4)

    python bench/bench_history.py [--tokens-b 10000000] [--days-b 365] [--new 50000]
                                  [--repeat 3] [--no-profile] [--cold] [--keep]
                                  [--work DIR] [--policies changed,all]

Issue target: with a ledger of 10,000,000 tokens and 365 published days (history B), a nightly
run adding 50,000 responses (2% recorded late, 0.5% collisions with tokens already in the
ledger) must take <= 1.3x the same run on 30 days and 300,000 tokens of history (A), and
<= 30 s.

How the histories are built (both end on the same day L, so the nights are alike):

1. the real pipeline (``run_night``, reissue: changed) runs over a generated drop
   (``generate_panel``, ``--per-day`` responses on every day of the history, only the export
   files already delivered by the history's clock) -- this writes every table of the state
   database (ledger, days, published_files, cid_lists, ingested_files with layouts, runs,
   outages), the day stores, the rendered-CSV and gzip-member caches and the published files;
2. synthetic ledger rows (random tokens, never seen in new data, days spread over the
   history, 93% eligible, 97% on time, already on their CID list) are bulk-inserted in
   token order with the driver's ``executemany`` until the ledger holds the target count;
3. per re-issue policy, the older published versions a year of nights would have left are
   recorded in ``published_files`` (and hard-linked in the publish folder, so SHA256SUMS
   lists real files): for ``changed`` the versions inside the stabilization window, for
   ``all`` one version per published day per night (N*(N-1)/2 rows), plus one run manifest
   per night.

The night: ``generate_panel`` over L-3 .. L+1 (no built-in late records or collisions);
48,750 responses started on L+1 (on time), 1,000 responses started on L-3 .. L and recorded
during the night (after their day's cut-off), and 250 responses carrying a token already in
the ledger (an eligible winner of L-12 .. L-1) with a start 1-4 days earlier than the
ledger's winner, recorded during the night (they swap the token into an earlier day). One
``python -m pipeline run --config ... --as-of L+2T05:30`` child process is timed per
history and policy (Dagster start-up included) on a fresh copy of the history; the stages
are also timed in-process (``pipeline.panel.stages``, no Dagster, no GE checks) and, unless
``--no-profile``, profiled with cProfile to list what grows from A to B. CLI runs of A and B
alternate (``--repeat`` each, median reported), after the machine has settled from building
the histories and one uncounted run per history; every run gets its own copy of the history,
flushed to disk (``os.sync``) before the clock starts, and finds the database in the page
cache (warm), as a nightly on a machine with enough memory would; ``--cold`` evicts the
copy's state.db from the page cache first (B-tree lookups then read the disk).

SQLite checkpoints its write-ahead log on its own (every 1,000 pages, inside the commit);
what a run leaves in the log is checkpointed by the next connection. After each CLI run the
benchmark times that last checkpoint on its own and prints it, with the B/A ratio of run +
checkpoint, an upper bound on a steady night's cost.

Not covered: weights and SFTP locations (local folders only), and the published volume of
a real 10M-token history: the day stores hold ``--per-day`` real rows, so the cumulative
file (rewritten every night, O(all published rows) by design) is ~4 MB here, not ~340 MB.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import os
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml
from calibrate import machine_line  # bench/, the script folder, is on sys.path
from measure import floor_seconds, report, run_child

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import load_config  # noqa: E402
from pipeline.context import RunContext  # noqa: E402
from pipeline.panel import names  # noqa: E402
from pipeline.panel.run import run_night  # noqa: E402
from pipeline.panel.stages import days, eligibility, fetch, lag, ledger, normalize  # noqa: E402
from pipeline.panel.stages.publish import publish_and_commit  # noqa: E402
from pipeline.panel.synth import Rates, generate_panel  # noqa: E402
from pipeline.state.store import StateStore  # noqa: E402
from pipeline.state.urls import sqlite_file  # noqa: E402

TZ = "America/Los_Angeles"
ZONE = ZoneInfo(TZ)
LAST_DAY = date(2021, 12, 31)  # L: the newest published day of both histories
STABILIZATION = 4  # the configuration's default
RATIO_TARGET, SECONDS_TARGET = 1.3, 30.0
SETTLE_SECONDS = 30  # after building the histories (see main)
# Token characters in ascending byte order: a token's order is its integer key's order.
TOKEN_CHARS = np.frombuffer(
    b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz", np.uint8
)
ALNUM = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
REASONS = np.array(["no_age_consent", "preview", "too_few_answers"], dtype=object)
SEED_CHUNK = 250_000
LEDGER_SQL = (
    "INSERT OR IGNORE INTO ledger (token, response_id, start, recorded, day, eligible, reason, "
    "on_time_day, cid_day, cid_pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def stamp(epoch: int) -> str:
    """Epoch seconds as a Qualtrics timestamp in the study's zone."""
    return datetime.fromtimestamp(epoch, ZONE).strftime("%Y-%m-%d %H:%M:%S")


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


# --- histories ----------------------------------------------------------------------------
@dataclass
class History:
    name: str
    days: int
    tokens: int
    dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    candidates: list[tuple[str, int]] = field(default_factory=list)  # collision tokens

    @property
    def first(self) -> date:
        return LAST_DAY - timedelta(days=self.days - 1)

    @property
    def db(self) -> Path:
        return self.dir / "state.db"


def _delivery_day(path: Path) -> date:
    # export_{YYYY_mm_dd}_{wave}.csv
    return names.parse_date(path.name[len("export_") : len("export_") + 10])


def build_history(h: History, per_day: int, seed: int) -> None:
    """Real pipeline over a generated drop covering every day, then synthetic ledger rows."""
    t0 = time.perf_counter()
    gen = h.dir / "generated"
    files = generate_panel(gen, h.first, h.days, per_day, seed=seed)
    drop = h.dir / "drop"
    drop.mkdir(parents=True)
    clock = local(LAST_DAY + timedelta(days=1), 5, 30)  # the history's last nightly run
    kept = 0
    for f in files:  # only what had been delivered by the history's clock
        if _delivery_day(f) <= clock.date():
            f.rename(drop / f.name)
            kept += 1
    shutil.rmtree(gen)
    t1 = time.perf_counter()
    h.timings["generate drop"] = t1 - t0

    config = h.dir / "config.yaml"
    _write_config(config, h.dir, "changed")
    cfg = load_config(config)
    store = StateStore(cfg.state)
    ctx = RunContext(cfg, clock, store, base_seq=store.last_seq())
    res = run_night(ctx)
    store.dispose()
    t2 = time.perf_counter()
    h.timings["real pipeline run"] = t2 - t1
    h.facts["drop files"] = kept
    h.facts["responses in drop"] = per_day * h.days
    h.facts["days published by the real run"] = res.days_published

    con = sqlite3.connect(h.db)
    real = con.execute("SELECT count(*) FROM ledger").fetchone()[0]
    lo, hi = (LAST_DAY - timedelta(days=12)).isoformat(), (LAST_DAY - timedelta(1)).isoformat()
    h.candidates = [
        (t, int(s))
        for t, s in con.execute(
            "SELECT token, start FROM ledger WHERE eligible AND day BETWEEN ? AND ? ORDER BY token",
            (lo, hi),
        )
    ]
    con.close()
    h.facts["real ledger tokens"] = real
    added = seed_ledger(h, h.tokens - real, seed + 1000)
    t3 = time.perf_counter()
    h.timings["bulk-insert synthetic ledger"] = t3 - t2
    h.facts["synthetic ledger tokens"] = added
    con = sqlite3.connect(h.db)
    h.facts["ledger rows"] = con.execute("SELECT count(*) FROM ledger").fetchone()[0]
    for table in ("days", "published_files", "cid_lists", "ingested_files", "runs", "outages"):
        h.facts[f"{table} rows"] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    con.close()
    h.facts["state.db size"] = mb(h.db.stat().st_size)
    h.timings["total"] = t3 - t0


def _sorted_keys(rng: np.random.Generator, n: int) -> np.ndarray:
    keys = np.unique(rng.integers(0, 2**63 - 1, size=n, dtype=np.int64))
    while len(keys) < n:  # a duplicate 63-bit draw: practically never
        more = rng.integers(0, 2**63 - 1, size=n - len(keys), dtype=np.int64)
        keys = np.unique(np.concatenate([keys, more]))
    return keys.view(np.uint64)


def _tokens(keys: np.ndarray, rng: np.random.Generator) -> list[str]:
    """17-character tokens (the synth's length and alphabet) in the order of ``keys``."""
    m = len(keys)
    mat = np.empty((m, 17), np.uint8)
    for i in range(10):  # 60 high bits, 6 per character
        mat[:, i] = ((keys >> np.uint64(57 - 6 * i)) & np.uint64(63)).astype(np.uint8)
    mat[:, 10] = ((keys & np.uint64(7)).astype(np.uint8) << 3) | rng.integers(0, 8, m, np.uint8)
    mat[:, 11:] = rng.integers(0, 64, (m, 6), dtype=np.uint8)
    return TOKEN_CHARS[mat].view("S17").ravel().astype("U17").tolist()


def _response_ids(m: int, rng: np.random.Generator) -> list[str]:
    mat = np.empty((m, 17), np.uint8)
    mat[:, 0], mat[:, 1] = ord("R"), ord("_")
    mat[:, 2:] = ALNUM[rng.integers(0, len(ALNUM), (m, 15), dtype=np.uint8)]
    return mat.view("S17").ravel().astype("U17").tolist()


def seed_ledger(h: History, n: int, seed: int) -> int:
    """Bulk-insert ``n`` synthetic ledger rows in token order; returns how many went in."""
    if n <= 0:
        return 0
    rng = np.random.default_rng(seed)
    keys = _sorted_keys(rng, n)
    day_list = [h.first + timedelta(days=i) for i in range(h.days + 1)]
    mids = np.array([int(local(d, 0).timestamp()) for d in day_list], dtype=np.int64)
    lengths = np.diff(mids)
    isos = np.array([d.isoformat() for d in day_list[:-1]], dtype=object)
    con = sqlite3.connect(h.db)
    before = con.execute("SELECT count(*) FROM ledger").fetchone()[0]
    con.execute("PRAGMA journal_mode=MEMORY")  # a bench build: no crash safety needed
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-524288")
    for lo in range(0, n, SEED_CHUNK):
        k = keys[lo : lo + SEED_CHUNK]
        m = len(k)
        day = rng.integers(0, h.days, m)
        start = mids[day] + (rng.random(m) * lengths[day]).astype(np.int64)
        recorded = start + rng.integers(120, 3600, m)
        eligible = rng.random(m) < 0.93
        reason = np.where(eligible, None, REASONS[rng.integers(0, len(REASONS), m)])
        on_time = np.where(rng.random(m) < 0.97, isos[day], None)  # on_time_day = cid_day
        rows = zip(
            _tokens(k, rng), _response_ids(m, rng), start.tolist(), recorded.tolist(),
            isos[day].tolist(), eligible.astype(np.int8).tolist(), reason.tolist(),
            on_time.tolist(), on_time.tolist(), strict=True,
        )  # fmt: skip
        con.executemany(LEDGER_SQL, rows)
    con.commit()
    con.execute("PRAGMA journal_mode=WAL")
    after = con.execute("SELECT count(*) FROM ledger").fetchone()[0]
    con.close()
    return after - before


# --- the night ------------------------------------------------------------------------------
@dataclass
class NightRows:
    """The night's responses by wave (collision rows get their tokens per history)."""

    headers: dict[str, list[list[str]]]
    rows: dict[str, list[list[str]]]
    collisions: list[tuple[str, list[str], dict[str, int]]]  # (wave, row, column index)
    counts: dict[str, int]


def make_night_rows(work: Path, n_new: int, late: float, coll: float, seed: int) -> NightRows:
    gen = work / "night-generated"
    first = LAST_DAY - timedelta(days=3)
    files = generate_panel(
        gen, first, 5, n_new, seed=seed, utc_export=None, rates=Rates(late=0.0, collision=0.0)
    )
    headers: dict[str, list[list[str]]] = {}
    seen: set[str] = set()
    by_day: dict[str, list[tuple[str, list[str]]]] = {}
    index: dict[str, dict[str, int]] = {}
    for f in files:
        wave = f.stem.rsplit("_", 1)[1]
        with open(f, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            head = [next(reader), next(reader), next(reader)]
            headers.setdefault(wave, head)
            col = index.setdefault(wave, {c: i for i, c in enumerate(head[0])})
            for row in reader:
                rid = row[col["ResponseId"]]
                if rid in seen:  # overlapping export windows repeat rows
                    continue
                seen.add(rid)
                by_day.setdefault(row[col["StartDate"]][:10], []).append((wave, row))
    shutil.rmtree(gen)
    rng = np.random.default_rng(seed)
    n_late, n_coll = round(n_new * late), round(n_new * coll)
    new_day = (LAST_DAY + timedelta(days=1)).isoformat()
    cutoff = f"{LAST_DAY + timedelta(days=2)} 04:00:00"  # L+1's cut-off (local time)
    today = [(w, r) for w, r in by_day[new_day] if r[index[w]["RecordedDate"]] < cutoff]
    normal = [today[i] for i in np.sort(rng.choice(len(today), n_new - n_late - n_coll, False))]
    older = [r for d, rows in sorted(by_day.items()) if d < new_day for r in rows]
    pick = rng.permutation(len(older))
    night_lo = int(local(LAST_DAY + timedelta(days=1), 5).timestamp())
    night_hi = int(local(LAST_DAY + timedelta(days=2), 4).timestamp())
    rows: dict[str, list[list[str]]] = {w: [] for w in headers}
    for wave, row in normal:
        rows[wave].append(row)
    used = 0
    for i in pick[:n_late]:  # started L-3 .. L, recorded during the night: after the cut-off
        wave, row = older[i]
        col = index[wave]
        rec = stamp(int(rng.integers(night_lo, night_hi)))
        row[col["RecordedDate"]] = row[col["EndDate"]] = rec
        rows[wave].append(row)
        used += 1
    collisions = []
    for i in pick[n_late:]:
        if len(collisions) == n_coll:
            break
        wave, row = older[i]
        col = index[wave]
        if (row[col["S1"]], row[col["Finished"]], row[col["Status"]]) != ("1", "1", "0"):
            continue  # collide with responses that would qualify
        if not row[col["SurveyID"]]:
            continue
        collisions.append((wave, row, col))
    counts = {"on time (started L+1)": len(normal), "late (started L-3..L)": used,
              "collisions (known tokens)": len(collisions)}  # fmt: skip
    return NightRows(headers, rows, collisions, counts)


def write_night(night: NightRows, h: History, out: Path, seed: int) -> list[Path]:
    """The night's exports for history ``h`` (collision tokens taken from its ledger)."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(h.candidates), len(night.collisions), replace=False)
    night_lo = int(local(LAST_DAY + timedelta(days=1), 5).timestamp())
    night_hi = int(local(LAST_DAY + timedelta(days=2), 4).timestamp())
    rows = {w: list(r) for w, r in night.rows.items()}
    for (wave, row, col), k in zip(night.collisions, chosen, strict=True):
        token, start = h.candidates[int(k)]
        new = list(row)
        begin = start - int(rng.integers(86400, 4 * 86400))  # 1-4 days before the winner
        new[col["token"]] = "'" + token if token.startswith("-") else token
        new[col["StartDate"]] = stamp(begin)
        new[col["EndDate"]] = stamp(begin + 600)
        new[col["RecordedDate"]] = stamp(int(rng.integers(night_lo, night_hi)))
        new[col["ResponseId"]] = "R_c" + new[col["ResponseId"]][3:]
        rows[wave].append(new)
    out.mkdir(parents=True, exist_ok=True)
    delivered = LAST_DAY + timedelta(days=2)
    written = []
    for wave, body in sorted(rows.items()):
        if not body:
            continue
        col = {c: i for i, c in enumerate(night.headers[wave][0])}
        body.sort(key=lambda r: r[col["RecordedDate"]])
        buf = io.StringIO()
        writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerows(night.headers[wave])
        writer.writerows(body)
        path = out / f"export_{names.fmt(delivered)}_{wave}.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        written.append(path)
    return written


# --- variants (a fresh copy of a history per measured run) ----------------------------------
def _write_config(path: Path, base: Path, reissue: str) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "source": str(base / "drop"), "publish": str(base / "publish"),
                "cid_out": str(base / "cids"), "archive": str(base / "archive"),
                "state": f"sqlite:///{base / 'state.db'}", "timezone": TZ, "reissue": reissue,
                "stabilization_days": STABILIZATION,
            }
        )
    )  # fmt: skip


def prepare(
    h: History, policy: str, tag: str, night: list[Path], work: Path, cold: bool = False
) -> Path:
    """A copy of history ``h`` with ``policy``'s published versions and the night's files.

    ``cold``: the copy's state database is evicted from the page cache (``posix_fadvise``
    on that one file), as after a reboot or under memory pressure.
    """
    vdir = work / f"{h.name}-{policy}-{tag}"
    vdir.mkdir()
    for sub in ("drop", "archive", "publish", "cids"):  # hard links: runs only add files
        subprocess.run(["cp", "-al", str(h.dir / sub), str(vdir / sub)], check=True)
    shutil.copyfile(h.db, vdir / "state.db")
    config = vdir / "config.yaml"
    _write_config(config, vdir, policy)
    cfg = load_config(config)
    con = sqlite3.connect(vdir / "state.db")
    con.execute("UPDATE ingested_files SET source = ?", (cfg.source,))
    _seed_versions(h, con, Path(cfg.publish), policy)
    con.commit()
    con.close()
    for f in night:
        shutil.copy2(f, Path(cfg.source) / f.name)
    os.sync()  # the copy's dirty pages must not be written back during the timed run
    if cold:
        fd = os.open(vdir / "state.db", os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return config


def _seed_versions(h: History, con: sqlite3.Connection, publish: Path, policy: str) -> None:
    """Older daily versions and run manifests of the nights before the history's last one."""
    days = con.execute("SELECT day, csv_sha, published_name FROM days ORDER BY day").fetchall()
    current = {r[0]: r for r in con.execute("SELECT name, size FROM published_files")}
    rows = []
    nights = h.days  # night k (1..N) has recorded date first+k; night N made the history
    for i, (day, sha, name) in enumerate(days):
        if not name:
            continue
        d = date.fromisoformat(day)
        last = nights - 1 if policy == "all" else min(nights - 1, i + STABILIZATION + 1)
        for k in range(i + 1, last + 1):
            old = names.daily(d, h.first + timedelta(days=k))
            os.link(publish / name, publish / old)
            rows.append((old, "daily", sha, current[name][1], day, (h.first + timedelta(k))))
    manifest = publish / "runs" / ".seeded.json"
    manifest.write_bytes(b"{}\n")
    for k in range(1, nights):
        rec = h.first + timedelta(days=k)
        name = f"runs/{names.fmt(rec)}_seeded-{k:04d}.json"
        os.link(manifest, publish / name)
        rows.append((name, "run", "0" * 64, 3, None, rec))
    con.executemany(
        "INSERT INTO published_files (name, kind, sha256, size, day, recorded, run_id, removed) "
        "VALUES (?, ?, ?, ?, ?, ?, 'seeded-history', 0)",
        [(n, k, s, z, d, r.isoformat()) for n, k, s, z, d, r in rows],
    )


# --- measurements -----------------------------------------------------------------------------
def cli_run(config: Path, as_of: datetime) -> dict[str, Any]:
    """One ``python -m pipeline run`` child: wall seconds, peak RSS of its process tree, its
    summary line."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    cmd = [sys.executable, "-m", "pipeline", "run", "--config", str(config),
           "--as-of", as_of.isoformat()]  # fmt: skip
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        measured = run_child(cmd, env=env, stdout=out, stderr=err)
        out.seek(0)
        err.seek(0)
        if measured.returncode != 0:
            raise SystemExit(f"run failed ({measured.returncode}): {err.read().decode()[-2000:]}")
        summary = out.read().decode().splitlines()[0]
    return {"measured": measured, "summary": summary, **deferred_checkpoint(config)}


def deferred_checkpoint(config: Path) -> dict[str, float]:
    """What a run leaves to the next one: its write-ahead log, and the seconds a checkpoint
    of it takes. Measured once the run has exited."""
    db = sqlite_file(load_config(config).state)
    wal = Path(f"{db}-wal")
    size = wal.stat().st_size / 1e6 if wal.exists() else 0.0
    t = time.perf_counter()
    with closing(sqlite3.connect(db)) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"wal_mb": size, "checkpoint_s": time.perf_counter() - t}


STAGES = ["fetch", "normalize", "eligibility", "collisions", "lag policy", "build days",
          "publish + commit"]  # fmt: skip


def staged_run(config: Path, as_of: datetime, profile: Path | None = None) -> dict[str, float]:
    """The stages in-process (no Dagster, no GE checks), timed one by one."""
    prof = cProfile.Profile() if profile else None
    times: dict[str, float] = {}

    def step(name: str, fn: Any, *args: Any) -> Any:
        t = time.perf_counter()
        if prof:
            prof.enable()
        out = fn(*args)
        if prof:
            prof.disable()
        times[name] = time.perf_counter() - t
        return out

    cfg = load_config(config)
    store = step("setup", StateStore, cfg.state)
    ctx = RunContext(cfg, as_of, store, base_seq=store.last_seq())
    got = step("fetch", fetch.fetch_exports, ctx)
    norm = step("normalize", normalize.normalize_exports, ctx, got)
    elig = step("eligibility", eligibility.apply_eligibility, ctx, norm)
    delta = step("collisions", ledger.resolve_collisions, ctx, elig)
    policy = step("lag policy", lag.apply_lag_policy, ctx, delta)
    build = step("build days", days.build_days, ctx, norm, delta, policy)
    step("publish + commit", publish_and_commit, ctx, got, norm, elig, delta, policy, build)
    store.dispose()
    times["total"] = sum(times.values())
    if prof and profile:
        prof.dump_stats(profile)
    return times


def manifest_facts(config: Path) -> dict[str, Any]:
    publish = Path(load_config(config).publish)
    newest = max((publish / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    doc = json.loads(newest.read_text())
    return {
        "rows_in": doc["rows_in"], "collisions": doc["collisions"], "swaps": doc["swaps"],
        "files written": len(doc["published"]), "re-issued by link": len(doc["reissued_by_link"]),
        "days re-issued": len(doc["reissued_days"]), "corrections": len(doc["corrections"]),
        "deferred": doc["deferred_recorded_after_clock"],
    }  # fmt: skip


def profile_diff(a: Path, b: Path, top: int) -> None:
    """Functions whose time grows most from history A to history B."""
    sa, sb = pstats.Stats(str(a)).stats, pstats.Stats(str(b)).stats  # type: ignore[attr-defined]

    def label(key: tuple[str, int, str]) -> str:
        file, line, func = key
        for marker in (str(ROOT) + "/", "site-packages/"):
            if marker in file:
                file = file.split(marker, 1)[1]
        return f"{file}:{line}({func})" if line else func

    rows = []
    for key in set(sa) | set(sb):
        ca, na, ta, cta = (sa.get(key) or (0, 0, 0.0, 0.0))[:4]
        cb, nb, tb, ctb = (sb.get(key) or (0, 0, 0.0, 0.0))[:4]
        rows.append((label(key), na, nb, ta, tb, cta, ctb))
    own = [r for r in rows if r[0].startswith("pipeline/")]
    print("    pipeline functions, cumulative seconds A -> B (largest growth first):")
    for name, na, nb, _ta, _tb, cta, ctb in sorted(own, key=lambda r: r[6] - r[5])[::-1][:top]:
        print(f"      {ctb - cta:+7.2f}  {cta:6.2f} -> {ctb:6.2f}  calls {na} -> {nb}  {name}")
    print("    any function, own (tottime) seconds A -> B (largest growth first):")
    for name, na, nb, ta, tb, _c, _d in sorted(rows, key=lambda r: r[4] - r[3])[::-1][:top]:
        print(f"      {tb - ta:+7.2f}  {ta:6.2f} -> {tb:6.2f}  calls {na} -> {nb}  {name}")


# --- main ---------------------------------------------------------------------------------------
def _remove(folder: Path) -> None:
    """Remove a copy that an in-process run used."""
    shutil.rmtree(folder)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days-a", type=int, default=30)
    p.add_argument("--tokens-a", type=int, default=300_000)
    p.add_argument("--days-b", type=int, default=365)
    p.add_argument("--tokens-b", type=int, default=10_000_000)
    p.add_argument("--per-day", type=int, default=300, help="real responses per history day")
    p.add_argument("--new", type=int, default=50_000, help="responses of the measured night")
    p.add_argument("--late", type=float, default=0.02)
    p.add_argument("--collisions", type=float, default=0.005)
    p.add_argument("--repeat", type=int, default=3, help="CLI runs per history (median)")
    p.add_argument("--policies", default="changed,all")
    p.add_argument("--no-profile", action="store_true")
    p.add_argument(
        "--cold", action="store_true", help="evict each copy's state.db from the page cache"
    )
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--work", help="work folder (default: a new temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    print(machine_line(), flush=True)
    policies = [x.strip() for x in args.policies.split(",") if x.strip()]

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-history-"))
    work.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    try:
        hist = [
            History("A", args.days_a, args.tokens_a, work / "history-A"),
            History("B", args.days_b, args.tokens_b, work / "history-B"),
        ]
        for h in hist:
            h.dir.mkdir()
            print(f"building history {h.name}: {h.days} days {h.first} .. {LAST_DAY}, "
                  f"{h.tokens:,} ledger tokens ...", flush=True)  # fmt: skip
            build_history(h, args.per_day, seed=7)
            print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in h.timings.items()))
            print("  " + ", ".join(f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v}"
                                   for k, v in h.facts.items()), flush=True)  # fmt: skip

        t = time.perf_counter()
        night = make_night_rows(work, args.new, args.late, args.collisions, seed=11)
        files = {h.name: write_night(night, h, h.dir / "night", seed=13) for h in hist}
        total = sum(night.counts.values())
        print(f"night of {LAST_DAY + timedelta(days=1)} ({time.perf_counter() - t:.1f} s to "
              f"generate): {total:,} responses: "
              + ", ".join(f"{k} {v:,}" for k, v in night.counts.items()))  # fmt: skip
        floor = floor_seconds(files["A"], args.new)  # the night's exports, alike for A and B
        print(f"floor (pyarrow reading the night's exports, writing {args.new:,} rows as CSV, "
              f"gzipped): {floor:.2f} s")  # fmt: skip
        as_of = local(LAST_DAY + timedelta(days=2), 5, 30)
        print(f"nightly clock --as-of {as_of.isoformat()} (publishes up to "
              f"{LAST_DAY + timedelta(days=1)}); reissue policies: {', '.join(policies)}; state.db "
              f"{'cold (evicted from the page cache)' if args.cold else 'warm (page cache)'}\n")  # fmt: skip

        # The histories were just written (history B: 1 GB in ~50 s); a nightly run finds
        # a year-old database. On this VM the runs after the build slowed down for about
        # half a minute (B: 4.99, 4.33, 3.92 s, one every ~10 s; its ledger write 0.8-1.5 s
        # against 0.45 s later): the machine settles first, and one run per history is not
        # counted.
        os.sync()
        time.sleep(SETTLE_SECONDS)
        warm = []
        for h in hist:
            config = prepare(h, policies[0], "warmup", files[h.name], work, args.cold)
            warm.append(f"{h.name} {cli_run(config, as_of)['measured'].wall:.2f} s")
            shutil.rmtree(config.parent)
        print(f"after {SETTLE_SECONDS} s to settle, warm-up runs (not counted): {', '.join(warm)}",
              flush=True)  # fmt: skip

        results: dict[tuple[str, str], dict[str, Any]] = {}
        for policy in policies:
            cli_runs: dict[str, list[dict[str, Any]]] = {h.name: [] for h in hist}
            facts_of: dict[str, dict[str, Any]] = {}
            for r in range(args.repeat):  # A and B interleaved: drift hits both alike
                for h in hist:
                    config = prepare(h, policy, f"cli{r}", files[h.name], work, args.cold)
                    cli_runs[h.name].append(cli_run(config, as_of))
                    facts_of[h.name] = manifest_facts(config)
                    shutil.rmtree(config.parent)
            for h in hist:
                runs, facts = cli_runs[h.name], facts_of[h.name]
                runs.sort(key=lambda x: x["measured"].wall)
                cli = runs[len(runs) // 2]
                config = prepare(h, policy, "stages", files[h.name], work, args.cold)
                staged = staged_run(config, as_of)
                _remove(config.parent)
                prof = None
                if not args.no_profile:
                    config = prepare(h, policy, "profile", files[h.name], work, args.cold)
                    prof = work / f"profile-{h.name}-{policy}.prof"
                    staged_run(config, as_of, prof)
                    _remove(config.parent)
                results[(policy, h.name)] = {"cli": cli, "all": runs, "stages": staged,
                                             "facts": facts, "profile": prof}  # fmt: skip
                walls = ", ".join(f"{x['measured'].wall:.2f}" for x in runs)
                print(f"[reissue: {policy}] history {h.name}: CLI run {cli['measured'].wall:.2f} s "
                      f"(runs: {walls}), peak RSS "
                      f"{cli['measured'].tree_peak_mb:,.0f} MB; in-process stages {staged['total']:.2f} s",
                      flush=True)  # fmt: skip
                print(f"    {cli['summary']}")
                print(
                    f"    left to the next run: a {cli['wal_mb']:,.0f} MB write-ahead log, "
                    f"checkpointed in {cli['checkpoint_s']:.2f} s (after the run exited)"
                )
                print("    " + ", ".join(f"{k} {v:,}" for k, v in facts.items()), flush=True)

        print("\n=== results " + "=" * 68)
        for h in hist:
            print(f"history {h.name}: {h.days} days, {h.facts['ledger rows']:,} ledger rows, "
                  f"state.db {h.facts['state.db size']}, built in {h.timings['total']:.1f} s "
                  f"(drop {h.timings['generate drop']:.1f} s, real run "
                  f"{h.timings['real pipeline run']:.1f} s, ledger seed "
                  f"{h.timings['bulk-insert synthetic ledger']:.1f} s)")  # fmt: skip
        verdicts = []
        for policy in policies:
            a, b = results[(policy, "A")], results[(policy, "B")]
            wa, wb = a["cli"]["measured"].wall, b["cli"]["measured"].wall
            ratio = wb / wa
            sa, sb = a["stages"]["total"], b["stages"]["total"]
            print(f"\nreissue: {policy}")
            print("  nightly run (python -m pipeline run, Dagster start-up included):")
            for name, res in (("A", a), ("B", b)):
                print("    " + report(f"history {name}", args.new, res["cli"]["measured"], floor))
            ok_ratio, ok_secs = ratio <= RATIO_TARGET, wb <= SECONDS_TARGET
            print(f"    ratio B/A {ratio:.2f} (target <= {RATIO_TARGET}: "
                  f"{'met' if ok_ratio else 'NOT met'}); B {wb:.1f} s (target <= "
                  f"{SECONDS_TARGET:.0f} s: {'met' if ok_secs else 'NOT met'})")  # fmt: skip
            ca, cb = a["cli"]["checkpoint_s"], b["cli"]["checkpoint_s"]
            print(f"    with the checkpoint each run leaves to the next (done alone, not "
                  f"overlapped): A {wa + ca:.2f} s, B {wb + cb:.2f} s, ratio "
                  f"{(wb + cb) / (wa + ca):.2f}")  # fmt: skip
            print(f"  in-process stages (no Dagster, no checks): A {sa:.2f} s, B {sb:.2f} s, "
                  f"ratio {sb / sa:.2f}")  # fmt: skip
            for s in ["setup", *STAGES]:
                ta, tb = a["stages"][s], b["stages"][s]
                print(f"    {s:18s} A {ta:6.2f} s   B {tb:6.2f} s   B-A {tb - ta:+6.2f} s")
            verdicts.append((policy, ratio, wb, ok_ratio and ok_secs))
            if a["profile"] and b["profile"]:
                print("  profile (cProfile of the in-process stages, A vs B):")
                profile_diff(a["profile"], b["profile"], args.top)
        print()
        for policy, ratio, wb, ok in verdicts:
            print(f"reissue: {policy}: B/A = {ratio:.2f}, B = {wb:.1f} s -> "
                  f"{'targets met' if ok else 'targets NOT met'}")  # fmt: skip
        print(f"(bench wall time {time.perf_counter() - t_all:.0f} s; work folder {work})")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
