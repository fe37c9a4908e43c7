"""Data checks as Great Expectations 1.x suites on in-memory frames (ephemeral context).

Plain Python; the stage assets (assets/panel.py, assets/days.py) run these as their checks.

Great Expectations takes seconds to import and fingerprints every frame it validates
(``hash_pandas_object``), so:

* the suites run in a *checker process* (a one-process ``ProcessPoolExecutor``, started
  once per process that runs checks, then reused): its import overlaps the run's first
  stages on the other core instead of competing with them for the GIL. Staged files travel
  by path. When the checker cannot run (it died, ``PIPELINE_NO_WORKER_PROCESSES=1``, or
  this is a daemonic process such as a Celery worker's), the same suites run in-process.
* the frames handed to GE are numeric: token codes, day ordinals and weights, which say
  the same as the strings they come from and hash fast.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.gcpause import gc_paused
from pipeline.panel.output import published_columns
from pipeline.staging import as_table

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

MIN_KNOWN_SURVEY_SHARE = 0.5
REQUIRED = ["StartDate", "RecordedDate", "ResponseId", "_start", "_recorded"]
CHECK_COLUMNS = ["_token", "StartDatetime", "weight"]


@dataclass
class CheckOutcome:
    """What a suite found: overall success, one line per failed expectation, failing days."""

    passed: bool
    failures: list[str] = field(default_factory=list)
    failed_days: list[str] = field(default_factory=list)
    evaluated: int = 0


# --- the checker process -----------------------------------------------------------------
NO_PROCESSES_ENV = "PIPELINE_NO_WORKER_PROCESSES"

_checker: ProcessPoolExecutor | None = None
_checker_pid = 0  # the process that started it
_checker_lock = threading.Lock()


def processes_enabled() -> bool:
    """Whether checks may run in the checker process: not when :data:`NO_PROCESSES_ENV` is
    set, nor in a daemonic process (a Celery prefork worker, a ``multiprocessing`` pool
    worker), which may not start children of its own."""
    return not os.environ.get(NO_PROCESSES_ENV) and not multiprocessing.current_process().daemon


def checker() -> ProcessPoolExecutor | None:
    """The checker process, started on first use (and anew after it broke); None when
    processes are off (:func:`processes_enabled`).

    It is forked when this process has one thread (the command line starts it before it
    imports Dagster): the child then has NumPy, pandas and Arrow already, and only imports
    Great Expectations, about 1 s of CPU less on the other core. Otherwise it is spawned,
    because ``fork`` would copy other threads mid-use. Spawn runs the parent's ``__main__``
    again in the child when the parent was started as ``python path/to/script.py``, so such
    a script needs the usual ``if __name__ == "__main__":`` guard (every script here has
    one; console scripts such as ``pytest`` and ``dagster`` too); ``python -m pipeline``
    and Dagster's run and step processes (``python -m dagster``) re-run nothing.
    ``forkserver`` would re-run it just the same.
    """
    global _checker, _checker_pid
    if not processes_enabled():
        return None
    with _checker_lock:
        if _checker is None or _checker_pid != os.getpid():  # none yet, or a forked copy
            try:
                method = "fork" if _single_threaded() else "spawn"
                _checker = ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context(method), initializer=_start_checker
                )
            except OSError:  # no semaphores here (say, no /dev/shm): checks run in-process
                return None
            _checker_pid = os.getpid()
            # Stop it before this process joins its children on exit: multiprocessing runs
            # finalizers of priority >= 0 first, highest first, also in a multiprocessing
            # child (a Dagster step process), where atexit handlers do not run; joining a
            # checker that waits for its parent's death would never end. Above the pool's
            # own queue finalizers (priority 10), which would close the queue the stop
            # signal travels on.
            multiprocessing.util.Finalize(
                _checker, _checker.shutdown, kwargs={"wait": True, "cancel_futures": True},
                exitpriority=100,
            )  # fmt: skip
        return _checker


def _single_threaded() -> bool:
    """Whether this process runs no Python thread but the main one. (Native threads of
    OpenBLAS and jemalloc may run: both libraries stop and restart them around ``fork``.)"""
    return threading.active_count() == 1


def warm_up() -> bool:
    """Start the checker process now; returns whether one runs.

    A run calls this as soon as it knows it will have rows to check (the command line:
    before it imports Dagster, which leaves the other core idle; a step: when it finds new
    files); the checker's import of Great Expectations then overlaps that work.
    """
    return _submit(os.getpid) is not None  # a process starts with its first call


def stop_checker() -> None:
    """Stop the checker process, if one runs, without waiting for it: a run that turns out
    to have nothing to check frees it at once. A check asked for later starts a new one."""
    pool = _checker
    if pool is not None:
        _discard(pool)


def _start_checker() -> None:
    """In the checker, before its first call: import Great Expectations in a background
    thread (a check waits for it; an exit does not, so a warm-up nobody needs any more
    never holds up the parent's exit), and exit when the parent dies (a killed run leaves
    no process behind; a parent that exits normally stops the checker itself)."""
    gc.enable()  # forked in the command line's import window, where the parent had it off
    threading.Thread(target=_batch_definition, name="import-gx", daemon=True).start()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_on, args=(parent.sentinel,), daemon=True).start()


def _exit_on(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _submit(fn: Any, *args: Any) -> tuple[ProcessPoolExecutor, Future[Any]] | None:
    """``fn(*args)`` queued in the checker process (replaced once if it died while idle), and
    that checker; None when processes are off or none can start."""
    for _attempt in range(2):
        pool = checker()
        if pool is None:
            return None
        try:
            return pool, pool.submit(fn, *args)
        except BrokenProcessPool:
            _discard(pool)
        except OSError:  # no process could start (out of memory, process limit)
            _discard(pool)
            return None
    return None


def _discard(pool: ProcessPoolExecutor) -> None:
    """Forget a checker (broken, or stopped): the next call starts a new one."""
    global _checker
    with _checker_lock:
        if _checker is pool:
            _checker = None
    pool.shutdown(wait=False, cancel_futures=True)


def _run_checked(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in the checker process, or here when it is off or died."""
    submitted = _submit(fn, *args)
    if submitted is not None:
        pool, future = submitted
        try:
            return future.result()
        except BrokenProcessPool:  # killed (e.g. out of memory): do the work here instead
            _discard(pool)
    return fn(*args)


# --- Great Expectations plumbing ---------------------------------------------------------
_LOCK = threading.Lock()


def _gx() -> Any:
    """The ``great_expectations`` module, imported by one thread at a time (the checker's
    import thread and a check may ask at once)."""
    _batch_definition()
    import great_expectations as gx

    return gx


def _batch_definition() -> Any:
    with _LOCK:
        return _new_batch_definition()


@cache
def _new_batch_definition() -> Any:
    with gc_paused():  # a quarter of the import's time otherwise
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("frames")
    return source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


def _validate(frame: pd.DataFrame, name: str, expectations: list[Any]) -> Any:
    definition = _batch_definition()  # creates the (ephemeral) context suites need
    suite = _gx().ExpectationSuite(name=name)
    for e in expectations:
        suite.add_expectation(e)
    batch = definition.get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(suite, result_format={"result_format": "COMPLETE"})


def _describe(result: Any) -> str:
    cfg = result.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}
    count = result.result.get("unexpected_count")
    extra = f": {count} unexpected" if count else ""
    return f"{cfg.type}({kwargs}){extra}"


# --- normalized responses ----------------------------------------------------------------
def check_normalized(frame: pd.DataFrame | pa.Table) -> CheckOutcome:
    """Required columns, parsed timestamps, and enough responses with a known SurveyID.

    Column presence is checked on a zero-row frame; row checks read three numeric columns.
    """
    E = _gx().expectations
    table = as_table(frame)
    names = table.column_names
    header = _validate(
        pd.DataFrame(columns=names),
        "normalized_columns",
        [E.ExpectColumnToExist(column=c) for c in REQUIRED],
    )
    present = [c for c in ("_start", "_recorded", "_wave") if c in names]
    values = pd.DataFrame({c: _floats(table.column(c)) for c in present})
    exps: list[Any] = [E.ExpectColumnValuesToNotBeNull(column=c) for c in ("_start", "_recorded")
                       if c in values]  # fmt: skip
    if "_wave" in values and len(values):
        exps.append(E.ExpectColumnValuesToNotBeNull(column="_wave", mostly=MIN_KNOWN_SURVEY_SHARE))
    rows = _validate(values, "normalized_rows", exps)
    failures = [_describe(r) for r in [*header.results, *rows.results] if not r.success]
    return CheckOutcome(passed=not failures, failures=failures, evaluated=table.num_rows)


def check_normalized_file(path: str) -> CheckOutcome:
    """:func:`check_normalized` on a staged batch (in the checker process)."""
    return _run_checked(_check_normalized_file, str(path))


def _check_normalized_file(path: str) -> CheckOutcome:
    from pipeline.staging import read_table

    return check_normalized(read_table(path))  # memory-mapped: only checked columns are read


# --- published days ----------------------------------------------------------------------
def check_day_files(
    files: dict[str, str], questions: list[str], headers: dict[str, list[str]]
) -> CheckOutcome:
    """:func:`check_days` on staged check files (the :data:`CHECK_COLUMNS` of each day's
    rows, by day), in the checker process (none is started when no day was rendered)."""
    if not files:
        return CheckOutcome(passed=True)
    return _run_checked(_check_day_files, dict(files), list(questions), dict(headers))


def _check_day_files(
    files: dict[str, str], questions: list[str], headers: dict[str, list[str]]
) -> CheckOutcome:
    from pipeline.staging import read_table

    return check_days({d: read_table(p) for d, p in files.items()}, questions, headers)


def check_days(
    days: dict[str, pd.DataFrame | pa.Table],
    questions: list[str],
    headers: dict[str, list[str]],
) -> CheckOutcome:
    """Each day's published rows: exact header (no forbidden column), one row per respondent,
    every row with a start inside its day, positive weights.

    ``days`` hold the :data:`CHECK_COLUMNS` of each day's rows; ``headers`` the header each
    day's file was written with.
    """
    if not days:
        return CheckOutcome(passed=True)
    E = _gx().expectations  # seconds to import: only when there is something to check
    failures: list[str] = []
    failed: set[str] = set()
    expected = published_columns(questions)
    for header in {tuple(h) for h in headers.values()}:
        result = _validate(
            pd.DataFrame(columns=list(header)),
            "published_header",
            [E.ExpectTableColumnsToMatchOrderedList(column_list=expected)],
        )
        if not result.success:
            failures += [_describe(r) for r in result.results if not r.success]
            failed |= {d for d, h in headers.items() if tuple(h) == header}
    frame, day_of_row = day_check_frame(days)
    exps = [
        E.ExpectColumnValuesToBeUnique(column="_token"),
        E.ExpectColumnValuesToNotBeNull(column="_token"),
        E.ExpectColumnValuesToNotBeNull(column="_start_day"),
        E.ExpectColumnPairValuesToBeEqual(column_A="_day", column_B="_start_day"),
        E.ExpectColumnValuesToBeBetween(column="_weight", min_value=0, strict_min=True),
    ]
    result = _validate(frame, "published_days", exps)
    for r in result.results:
        if r.success:
            continue
        failures.append(_describe(r))
        idx = r.result.get("unexpected_index_list") or []
        rows = [i for i in idx if isinstance(i, int | np.integer)]
        failed |= set(day_of_row[rows]) if rows else set(days)
    return CheckOutcome(
        passed=not failures, failures=failures, failed_days=sorted(failed), evaluated=len(frame)
    )


def day_check_frame(days: dict[str, pd.DataFrame | pa.Table]) -> tuple[pd.DataFrame, np.ndarray]:
    """The numeric frame the day suite validates, and each row's day.

    ``_token``: a code per distinct token (NaN when missing); ``_day``: the ordinal of the
    file's day; ``_start_day``: the ordinal of the row's ``StartDatetime`` date (NaN when
    missing or unparseable); ``_weight``: the weight (NaN when absent, -1 when unparseable,
    so it fails instead of vanishing).
    """
    text = pa.schema([(c, pa.string()) for c in CHECK_COLUMNS])
    tables = [as_table(t).select(CHECK_COLUMNS).cast(text) for t in days.values()]
    rows = pa.concat_tables(tables)
    sizes = [t.num_rows for t in tables]
    day_of_row = np.repeat(np.array(list(days), dtype=object), sizes)
    ordinals = np.repeat([_ordinal(d) for d in days], sizes).astype("float64")
    tokens = pc.dictionary_encode(rows.column("_token").combine_chunks()).indices
    start = rows.column("StartDatetime").combine_chunks()
    start_day = pc.strptime(
        pc.utf8_slice_codeunits(start, 0, 10), "%Y-%m-%d", "s", error_is_null=True
    )
    weight_text = rows.column("weight").combine_chunks()
    weight = np.full(len(weight_text), np.nan)
    has = pc.is_valid(weight_text).to_numpy(zero_copy_only=False)
    if has.any():  # a study without weights has none to parse
        given = weight_text.drop_null().to_numpy(zero_copy_only=False)
        parsed = pd.to_numeric(pd.Series(given), errors="coerce")
        weight[has] = parsed.to_numpy(dtype="float64", na_value=np.nan)
    weight[has & np.isnan(weight)] = -1.0
    frame = pd.DataFrame({
        "_token": _floats(tokens),
        "_day": ordinals,
        "_start_day": _floats(start_day.cast(pa.int64())) / 86400,
        "_weight": weight,
    })  # fmt: skip
    return frame, day_of_row


def _ordinal(day: str) -> int:
    """Days since 1970-01-01 of an ISO date (the same scale as epoch days)."""
    return int(np.datetime64(day, "D").astype("int64"))


def _floats(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
