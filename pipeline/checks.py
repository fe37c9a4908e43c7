"""Data checks as Great Expectations 1.x suites on in-memory frames (ephemeral context).

Plain Python; the stage assets (assets/panel.py, assets/days.py) run these as their checks,
in the step's own process. The frames handed to Great Expectations are numeric (token
codes, day ordinals, weights): they say the same as the strings they come from, and GE
fingerprints every frame it validates (``hash_pandas_object``), which is fast on numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.panel.output import published_columns
from pipeline.staging import as_table, read_table

MIN_KNOWN_SURVEY_SHARE = 0.5
REQUIRED = ["StartDate", "RecordedDate", "ResponseId", "_start", "_recorded"]
CHECK_COLUMNS = ["_token", "StartDatetime", "weight"]
CHECK_SHARE_DAYS = 31  # days validated at once (a month of a large study: ~1M rows)


@dataclass
class CheckOutcome:
    """What a suite found: overall success, one line per failed expectation, failing days."""

    passed: bool
    failures: list[str] = field(default_factory=list)
    failed_days: list[str] = field(default_factory=list)
    evaluated: int = 0


# --- Great Expectations plumbing ---------------------------------------------------------
def _gx() -> Any:
    """The ``great_expectations`` module (imported on first use: it takes seconds), with
    its usage analytics off (it would post to GX's servers; an operator's setting stays)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


@cache
def _batch_definition() -> Any:
    """The ephemeral context's whole-dataframe batch definition, made once per process."""
    gx = _gx()
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


def check_normalized_files(paths: tuple[str, ...] | list[str]) -> CheckOutcome:
    """:func:`check_normalized` on each staged batch (memory-mapped: only checked columns
    are read); failures of all batches, each named once (none: passed)."""
    outcomes = [check_normalized(read_table(path)) for path in paths]
    failures = list(dict.fromkeys(f for o in outcomes for f in o.failures))
    evaluated = sum(o.evaluated for o in outcomes)
    return CheckOutcome(passed=not failures, failures=failures, evaluated=evaluated)


# --- published days ----------------------------------------------------------------------
def check_day_files(
    files: dict[str, str], questions: list[str], headers: dict[str, list[str]]
) -> CheckOutcome:
    """:func:`check_days` on staged check files (the :data:`CHECK_COLUMNS` of each day's
    rows, by day), :data:`CHECK_SHARE_DAYS` days at a time, so memory is bounded by a share
    and not by a rebuild's every day; one row per respondent is checked across the shares
    too (:func:`tokens_in_two_days`, on 64-bit hashes of the tokens taken on the way)."""
    days = sorted(files)
    outcomes = []
    hashes: dict[str, np.ndarray] = {}
    for at in range(0, len(days), CHECK_SHARE_DAYS):
        share = {d: read_table(files[d]) for d in days[at : at + CHECK_SHARE_DAYS]}
        outcomes.append(check_days(share, questions, {d: headers[d] for d in share}))
        if len(days) > CHECK_SHARE_DAYS:
            hashes.update({d: _token_hashes(t) for d, t in share.items()})
    shared = tokens_in_two_days(hashes, files) if hashes else {}
    failures = list(dict.fromkeys(f for o in outcomes for f in o.failures))
    if shared:
        failures.append(
            "ExpectColumnValuesToBeUnique(_token) across shares of days: respondents in "
            f"more than one day's file ({len(shared)} days)"
        )
    failed = sorted({d for o in outcomes for d in o.failed_days} | set(shared))
    return CheckOutcome(
        passed=not failures, failures=failures, failed_days=failed,
        evaluated=sum(o.evaluated for o in outcomes),
    )  # fmt: skip


def _token_hashes(table: pa.Table) -> np.ndarray:
    return pd.util.hash_array(table.column("_token").drop_null().to_numpy(zero_copy_only=False))


def tokens_in_two_days(hashes: dict[str, np.ndarray], files: dict[str, str]) -> dict[str, int]:
    """Days whose tokens (``hashes``: 64-bit hashes by day, 8 bytes a row in memory) meet
    another day's, with how many; confirmed on the tokens of those days' check files
    (``files``): a hash collision is no duplicate."""
    days = sorted(hashes)
    h = np.concatenate([hashes[d] for d in days])
    who = np.repeat(np.arange(len(days)), [len(hashes[d]) for d in days])
    order = np.argsort(h, kind="stable")
    h, who = h[order], who[order]
    same = np.flatnonzero(h[1:] == h[:-1])
    suspects = list(set(h[same].tolist()))
    holders: dict[str, set[str]] = {}  # suspect token -> the days holding it
    for i in sorted({int(w) for k in same for w in (who[k], who[k + 1])}):
        values = read_table(files[days[i]], ["_token"]).column("_token").drop_null()
        values = values.to_numpy(zero_copy_only=False)
        for token in values[np.isin(pd.util.hash_array(values), suspects)]:
            holders.setdefault(token, set()).add(days[i])
    shared: dict[str, int] = {}
    for held in holders.values():
        for day in held if len(held) > 1 else ():
            shared[day] = shared.get(day, 0) + 1
    return shared


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
