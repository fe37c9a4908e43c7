"""Data checks as Great Expectations 1.x suites on in-memory frames (ephemeral context).

Plain Python; the Dagster asset checks in ``assets/checks.py`` call these.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd

from pipeline.panel.output import published_columns

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

MIN_KNOWN_SURVEY_SHARE = 0.5
REQUIRED = ["StartDate", "RecordedDate", "ResponseId", "_start", "_recorded"]


@dataclass
class CheckOutcome:
    """What a suite found: overall success, one line per failed expectation, failing days."""

    passed: bool
    failures: list[str] = field(default_factory=list)
    failed_days: list[str] = field(default_factory=list)
    evaluated: int = 0


def warm_up() -> None:
    """Import Great Expectations and build its context in a background thread.

    The import alone takes seconds; a run starts it here, while the first stages (mostly
    Arrow work outside the GIL) go on, so the first check does not wait for it.
    """
    threading.Thread(target=_batch_definition, name="gx-warm-up", daemon=True).start()


_LOCK = threading.Lock()


def _batch_definition() -> Any:
    with _LOCK:  # the warm-up thread and a check may ask at the same time
        return _new_batch_definition()


@cache
def _new_batch_definition() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("frames")
    return source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


def _validate(frame: pd.DataFrame, name: str, expectations: list[Any]) -> Any:
    import great_expectations as gx

    definition = _batch_definition()  # creates the (ephemeral) context suites need
    suite = gx.ExpectationSuite(name=name)
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


def check_normalized(frame: pd.DataFrame) -> CheckOutcome:
    """Required columns, parsed timestamps, and enough responses with a known SurveyID.

    Column presence is checked on a zero-row frame; row checks read three numeric columns.
    """
    import great_expectations as gx

    E = gx.expectations
    header = _validate(
        frame.iloc[0:0], "normalized_columns", [E.ExpectColumnToExist(column=c) for c in REQUIRED]
    )
    values = frame[[c for c in ("_start", "_recorded", "_wave") if c in frame]].astype("float64")
    exps: list[Any] = [E.ExpectColumnValuesToNotBeNull(column=c) for c in ("_start", "_recorded")
                       if c in values]  # fmt: skip
    if "_wave" in values and len(values):
        exps.append(E.ExpectColumnValuesToNotBeNull(column="_wave", mostly=MIN_KNOWN_SURVEY_SHARE))
    rows = _validate(values, "normalized_rows", exps)
    failures = [_describe(r) for r in [*header.results, *rows.results] if not r.success]
    return CheckOutcome(passed=not failures, failures=failures, evaluated=len(frame))


def check_normalized_file(path: str) -> CheckOutcome:
    """:func:`check_normalized` on a staged batch, reading only the columns it looks at."""
    from pipeline.staging import read_frame, read_table

    names = read_table(path).column_names  # memory-mapped: the schema only
    return check_normalized(
        read_frame(path, columns=[c for c in (*REQUIRED, "_wave") if c in names])
    )


CHECK_COLUMNS = ["_token", "StartDatetime", "weight"]


def check_days(
    days: dict[str, pd.DataFrame], questions: list[str], headers: dict[str, list[str]]
) -> CheckOutcome:
    """Each day's published rows: exact header (no forbidden column), one row per respondent,
    every row with a start inside its day, positive weights.

    ``days`` hold the :data:`CHECK_COLUMNS` of each day's rows; ``headers`` the header each
    day's file was written with.
    """
    if not days:
        return CheckOutcome(passed=True)
    import great_expectations as gx  # seconds to import: only when there is something to check

    E = gx.expectations
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
    frame = pd.concat(
        [t[CHECK_COLUMNS].assign(_day=day) for day, t in days.items()], ignore_index=True
    )
    frame["_start_day"] = frame["StartDatetime"].str.slice(0, 10)
    frame["_weight"] = pd.to_numeric(frame["weight"], errors="coerce").astype("float64")
    bad_weight = frame["weight"].notna() & frame["_weight"].isna()
    frame.loc[bad_weight, "_weight"] = -1.0  # unparseable weights must fail, not vanish
    frame = frame.drop(columns=["weight"])
    exps = [
        E.ExpectColumnValuesToBeUnique(column="_token"),
        E.ExpectColumnValuesToNotBeNull(column="_token"),
        E.ExpectColumnValuesToNotBeNull(column="StartDatetime"),
        E.ExpectColumnPairValuesToBeEqual(column_A="_day", column_B="_start_day"),
        E.ExpectColumnValuesToBeBetween(column="_weight", min_value=0, strict_min=True),
    ]
    result = _validate(frame, "published_days", exps)
    for r in result.results:
        if r.success:
            continue
        failures.append(_describe(r))
        idx = r.result.get("unexpected_index_list") or []
        rows = [i for i in idx if isinstance(i, int)]
        failed |= set(frame.loc[rows, "_day"]) if rows else set(days)
    return CheckOutcome(
        passed=not failures, failures=failures, failed_days=sorted(failed), evaluated=len(frame)
    )
