"""The clock of a study (SPEC §3.2, §3.5): `for` dates, cut-offs, the `recorded` date, the
last closed day, and the on-time rule. Every other module asks these questions here."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from pipeline.config import ConfigError


def for_dates(epoch_seconds: np.ndarray, timezone: str) -> np.ndarray:
    """Calendar date (datetime64[D]) in ``timezone`` of each UTC epoch second (DST aware)."""
    utc = pd.to_datetime(pd.Series(epoch_seconds, dtype="int64"), unit="s", utc=True)
    local = utc.dt.tz_convert(ZoneInfo(timezone)).dt.tz_localize(None)
    return local.to_numpy().astype("datetime64[D]")


def cutoff_epoch(day: date, timezone: str, hour: int = 4) -> int:
    """Epoch seconds of ``hour``:00 local time on the morning after ``day`` (the day's cut-off)."""
    local = datetime.combine(day + timedelta(days=1), time(hour), tzinfo=ZoneInfo(timezone))
    return int(local.timestamp())


def cutoff_epochs(days: np.ndarray, timezone: str, hour: int = 4) -> np.ndarray:
    """Vectorised :func:`cutoff_epoch` over datetime64[D] values."""
    uniq, inverse = np.unique(days, return_inverse=True)
    cut = np.array(
        [cutoff_epoch(pd.Timestamp(d).date(), timezone, hour) for d in uniq], dtype="int64"
    )
    return cut[inverse] if len(uniq) else np.zeros(0, dtype="int64")


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar date of an aware datetime in ``timezone``."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def last_closed_day(as_of: datetime, timezone: str, hour: int = 4) -> date:
    """The newest day whose cut-off has passed at ``as_of``."""
    today = local_date(as_of, timezone)
    yesterday = today - timedelta(days=1)
    return (
        yesterday
        if as_of.timestamp() >= cutoff_epoch(yesterday, timezone, hour)
        else (yesterday - timedelta(days=1))
    )


def fmt(day: date) -> str:
    """A date as it appears in published file names: ``YYYY_mm_dd``."""
    return day.strftime("%Y_%m_%d")


def parse_as_of(text: str | None) -> datetime:
    """A run's clock from ISO 8601 text (``2021-06-02T12:00:00Z``; naive means UTC); None
    means now."""
    if not text:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def day_range(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last``, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def on_time(recorded: np.ndarray, days: np.ndarray, timezone: str, hour: int = 4) -> np.ndarray:
    """Whether each response (recorded at epoch second ``recorded``, started on ``for`` day
    ``days``, datetime64[D]) was recorded by its day's cut-off: *on time* (SPEC §3.5)."""
    return recorded <= cutoff_epochs(days, timezone, hour)


class ClockOrderError(ConfigError):
    """A run's clock is earlier than the newest committed run's."""


def check_clock_order(as_of: datetime, last_as_of: str | None) -> None:
    """Refuse a clock earlier than the newest committed run's (``last_as_of``, ISO 8601):
    replaying an earlier night would publish other bytes under names already published.
    The same clock again (a re-run) is fine."""
    if last_as_of is None:
        return
    last = parse_as_of(last_as_of)
    if as_of < last:
        raise ClockOrderError(
            f"the run's clock ({as_of.isoformat()}) is earlier than the last committed run's "
            f"({last.isoformat()}); published history is never rewritten: run with that clock "
            "or a later one"
        )
