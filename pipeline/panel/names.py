"""Names of published panel files (SPEC §3.5, §3.6); dates are ``YYYY_mm_dd``."""

from __future__ import annotations

import re
from datetime import date, datetime

from pipeline.clock import fmt

DAILY_RE = re.compile(
    r"^cvid_responses_(\d{4}_\d{2}_\d{2})_recordedby_(\d{4}_\d{2}_\d{2})\.csv(\.gz)?$"
)
CUMULATIVE_RE = re.compile(r"^cvid_responses_(\d{4}_\d{2}_\d{2})_-_(\d{4}_\d{2}_\d{2})\.csv\.gz$")
WEIGHTS_RE = re.compile(r".*_finish_full_survey_weights\.csv$")
CID_LIST_RE = re.compile(r"^cvid_cids_full_response_00_00_(\d{4}_\d{2}_\d{2})_-_23_59_\1\.csv$")
MONTHLY_RE = re.compile(r"^\d{4}-\d{2}\.(csv\.gz|tar)$")


def daily(for_day: date, recorded: date, gz: bool = False) -> str:
    """``cvid_responses_{for}_recordedby_{recorded}.csv[.gz]``."""
    return f"cvid_responses_{fmt(for_day)}_recordedby_{fmt(recorded)}.csv" + (".gz" if gz else "")


def cumulative(first: date, last: date) -> str:
    """``cvid_responses_{from}_-_{to}.csv.gz``."""
    return f"cvid_responses_{fmt(first)}_-_{fmt(last)}.csv.gz"


def cid_list(day: date) -> str:
    """``cvid_cids_full_response_00_00_{D}_-_23_59_{D}.csv``."""
    return f"cvid_cids_full_response_00_00_{fmt(day)}_-_23_59_{fmt(day)}.csv"


def monthly(year: int, month: int, ext: str) -> str:
    """``{YYYY}-{mm}.csv.gz`` or ``{YYYY}-{mm}.tar``."""
    return f"{year:04d}-{month:02d}.{ext}"


def parse_date(text: str) -> date:
    """``YYYY_mm_dd`` → date."""
    return datetime.strptime(text, "%Y_%m_%d").date()
