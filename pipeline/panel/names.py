"""Names of published panel files (SPEC §3.5, §3.6); dates are ``YYYY_mm_dd``.

The layout a researcher's own tools expect (SPEC §3.6): among ``*.csv`` / ``*.csv.gz``
names the publish root holds only the daily files (the survey's R helper lists the root by
pattern and reads the dates from the name's parts). Everything else lives in a subfolder:
the cumulative file in ``cumulative/``, the monthly rollups in ``monthly/``, the codebook
in ``docs/``, the run manifests in ``runs/`` and the typed Parquet copies in
``parquet/day=YYYY-MM-DD/``.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from pipeline import checksums
from pipeline.clock import fmt

DAILY_RE = re.compile(
    r"^cvid_responses_(\d{4}_\d{2}_\d{2})_recordedby_(\d{4}_\d{2}_\d{2})\.csv(\.gz)?$"
)
CUMULATIVE_RE = re.compile(r"^cvid_responses_(\d{4}_\d{2}_\d{2})_-_(\d{4}_\d{2}_\d{2})\.csv\.gz$")
PARQUET_RE = re.compile(r"^part-([0-9a-f]{16})\.parquet$")
WEIGHTS_RE = re.compile(r".*_finish_full_survey_weights\.csv$")
CID_LIST_RE = re.compile(r"^cvid_cids_full_response_00_00_(\d{4}_\d{2}_\d{2})_-_23_59_\1\.csv$")
MONTHLY_RE = re.compile(r"^\d{4}-\d{2}\.(csv\.gz|tar)$")


CUMULATIVE_DIR = "cumulative"
MONTHLY_DIR = "monthly"
DOCS_DIR = "docs"
PARQUET_DIR = checksums.PARQUET_DIR  # its sums live in the root (pipeline.checksums)
CODEBOOK = f"{DOCS_DIR}/codebook.csv"
# Where each kind of published file lives (kinds as recorded by the publisher).
FOLDERS = {"cumulative": CUMULATIVE_DIR, "rollup": MONTHLY_DIR, "codebook": DOCS_DIR}


def daily(for_day: date, recorded: date, gz: bool = False) -> str:
    """``cvid_responses_{for}_recordedby_{recorded}.csv[.gz]``."""
    return f"cvid_responses_{fmt(for_day)}_recordedby_{fmt(recorded)}.csv" + (".gz" if gz else "")


def cumulative(first: date, last: date) -> str:
    """``cumulative/cvid_responses_{from}_-_{to}.csv.gz``."""
    return f"{CUMULATIVE_DIR}/cvid_responses_{fmt(first)}_-_{fmt(last)}.csv.gz"


def cid_list(day: date) -> str:
    """``cvid_cids_full_response_00_00_{D}_-_23_59_{D}.csv``."""
    return f"cvid_cids_full_response_00_00_{fmt(day)}_-_23_59_{fmt(day)}.csv"


def monthly(year: int, month: int, ext: str) -> str:
    """``monthly/{YYYY}-{mm}.csv.gz`` or ``monthly/{YYYY}-{mm}.tar``."""
    return f"{MONTHLY_DIR}/{year:04d}-{month:02d}.{ext}"


def parquet(for_day: date, key: str) -> str:
    """``parquet/day=YYYY-MM-DD/part-{key}.parquet``: the typed copy of a day's newest
    content; ``key`` names that content (:func:`pipeline.panel.parquet.copy_name`), so new
    content is a new name and a published name never gets other bytes."""
    return f"{PARQUET_DIR}/day={for_day.isoformat()}/part-{key}.parquet"


def moved(name: str, kind: str) -> str | None:
    """Where a file of an older layout (cumulative, rollup or codebook in the root) lives
    now; None when it is where it belongs."""
    folder = FOLDERS.get(kind)
    if folder is None or "/" in name:
        return None
    return f"{folder}/{name}"


def parse_date(text: str) -> date:
    """``YYYY_mm_dd`` → date."""
    return datetime.strptime(text, "%Y_%m_%d").date()
