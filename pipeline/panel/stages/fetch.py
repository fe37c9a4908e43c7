"""Stage 1 of a panel night: new exports fetched from the drop into the raw archive."""

from __future__ import annotations

from pipeline.context import RunContext
from pipeline.fetching import (
    FetchResult,
    fetch_inputs,
)

EXPORT_SUFFIXES = (".csv", ".csv.gz")


def is_export(path: str) -> bool:
    """Panel exports in the drop: ``*.csv`` and ``*.csv.gz``."""
    return path.lower().endswith(EXPORT_SUFFIXES)


def fetch_exports(
    ctx: RunContext,
    rebuild: bool = False,
) -> FetchResult:
    """New or changed exports (``*.csv``, ``*.csv.gz``) archived, and what to parse; see
    :func:`pipeline.fetching.fetch_inputs`."""
    return fetch_inputs(ctx, is_export, "export", rebuild=rebuild)
