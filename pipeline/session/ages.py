"""Child ages at the time of a response (SPEC §4.2)."""

from __future__ import annotations

from datetime import UTC, date, datetime

ROUND_SMALL_LIMIT = 360  # days: up to here round to 10 days, above to 30 days


def parse_timestamp(value: str | datetime) -> datetime:
    """An aware UTC datetime from an ISO 8601 string (``Z`` allowed); naive means UTC.

    Raises ValueError, never quoting the value, when the text is not a timestamp or when
    its UTC time falls outside the calendar (``0001-01-01T00:00:00+05:00``)."""
    if isinstance(value, datetime):
        stamp = value
    else:
        text = str(value).strip()
        stamp = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    try:
        return stamp.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range in UTC") from None


def parse_birthday(value: str | date) -> date:
    """A birthday as a date: ``YYYY-MM-DD`` or an ISO timestamp (its UTC date)."""
    if isinstance(value, datetime):
        return parse_timestamp(value).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return parse_timestamp(text).date()


def age_in_days(response_created: str | datetime, birthday: str | date) -> int:
    """Days from the birthday to the UTC date of the response's ``date_created``."""
    return (parse_timestamp(response_created).date() - parse_birthday(birthday)).days


def round_age(days: int) -> int:
    """Rounded age: up to 360 days to the nearest 10, above to the nearest 30.

    Halves go to the even multiple (Python ``round`` on the quotient): 355 → 360,
    345 → 340, 375 → 360, 405 → 420, 435 → 420.
    """
    unit = 10 if days <= ROUND_SMALL_LIMIT else 30
    return round(days / unit) * unit
