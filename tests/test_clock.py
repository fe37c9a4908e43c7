"""pipeline.clock: `for` dates, cut-offs, the last closed day, day ranges and the on-time
rule (SPEC §3.2, §3.5), in America/Los_Angeles across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from pipeline.clock import (
    cutoff_epoch,
    cutoff_epochs,
    day_range,
    fmt,
    for_dates,
    last_closed_day,
    local_date,
    on_time,
    parse_as_of,
)

LA = "America/Los_Angeles"


def _epoch(text: str) -> int:
    """Epoch seconds of a UTC ISO time."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def _days(*texts: str) -> np.ndarray:
    return np.array(texts, dtype="datetime64[D]")


# --- day_range ---------------------------------------------------------------------------


def test_day_range_includes_both_ends():
    got = day_range(date(2021, 6, 1), date(2021, 6, 3))
    assert got == [date(2021, 6, 1), date(2021, 6, 2), date(2021, 6, 3)]


def test_day_range_of_one_day_and_of_a_reversed_range():
    assert day_range(date(2021, 6, 1), date(2021, 6, 1)) == [date(2021, 6, 1)]
    assert day_range(date(2021, 6, 2), date(2021, 6, 1)) == []


def test_day_range_crosses_months_years_leap_days_and_dst_changes():
    leap = day_range(date(2024, 2, 28), date(2024, 3, 1))
    assert leap == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    year = day_range(date(2020, 12, 31), date(2021, 1, 1))
    assert year == [date(2020, 12, 31), date(2021, 1, 1)]
    # calendar days, not 24-hour steps: the 23- and 25-hour days count once each
    spring = day_range(date(2021, 3, 13), date(2021, 3, 15))
    assert spring == [date(2021, 3, 13), date(2021, 3, 14), date(2021, 3, 15)]
    autumn = day_range(date(2021, 11, 6), date(2021, 11, 8))
    assert [d.day for d in autumn] == [6, 7, 8]
    whole = day_range(date(2021, 1, 1), date(2021, 12, 31))
    assert len(whole) == 365 and len(set(whole)) == 365
    assert all(b - a == timedelta(days=1) for a, b in zip(whole, whole[1:], strict=False))


# --- on_time -----------------------------------------------------------------------------


def test_recorded_exactly_at_the_cutoff_is_on_time_one_second_later_is_not():
    cut = _epoch("2021-06-02T11:00:00")  # 04:00 PDT the morning after 2021-06-01
    assert cut == cutoff_epoch(date(2021, 6, 1), LA)
    recorded = np.array([cut - 1, cut, cut + 1], dtype="int64")
    got = on_time(recorded, _days("2021-06-01", "2021-06-01", "2021-06-01"), LA)
    assert got.tolist() == [True, True, False]


def test_on_time_on_the_days_around_spring_forward():
    # 2021-03-14 02:00 PST became 03:00 PDT
    before = _epoch("2021-03-13T12:00:00")  # cut-off of 03-12: 04:00 PST on 03-13
    change = _epoch("2021-03-14T11:00:00")  # cut-off of 03-13: 04:00 PDT on 03-14
    after = _epoch("2021-03-15T11:00:00")  # cut-off of 03-14 (a 23-hour day): 04:00 PDT
    days = _days(*["2021-03-12"] * 2, *["2021-03-13"] * 2, *["2021-03-14"] * 2)
    recorded = np.array([before, before + 1, change, change + 1, after, after + 1], dtype="int64")
    assert on_time(recorded, days, LA).tolist() == [True, False] * 3
    # 04:00 PST on 03-14 would be an hour later: a response recorded then is late
    assert not on_time(np.array([change + 3600]), _days("2021-03-13"), LA)[0]


def test_on_time_on_the_days_around_fall_back():
    # 2021-11-07 02:00 PDT became 01:00 PST
    before = _epoch("2021-11-06T11:00:00")  # cut-off of 11-05: 04:00 PDT on 11-06
    change = _epoch("2021-11-07T12:00:00")  # cut-off of 11-06: 04:00 PST on 11-07
    after = _epoch("2021-11-08T12:00:00")  # cut-off of 11-07 (a 25-hour day): 04:00 PST
    days = _days(*["2021-11-05"] * 2, *["2021-11-06"] * 2, *["2021-11-07"] * 2)
    recorded = np.array([before, before + 1, change, change + 1, after, after + 1], dtype="int64")
    assert on_time(recorded, days, LA).tolist() == [True, False] * 3
    # 04:00 PDT would have been an hour earlier: a response recorded in that hour is on time
    assert on_time(np.array([change - 1800]), _days("2021-11-06"), LA)[0]


def test_on_time_matches_each_response_to_its_own_day_in_any_order():
    days = _days("2021-06-03", "2021-06-01", "2021-06-03", "2021-06-02", "2021-06-01")
    cuts = [cutoff_epoch(date.fromisoformat(str(d)), LA) for d in days]
    recorded = np.array([cuts[0], cuts[1] + 1, cuts[2] + 1, cuts[3] - 60, cuts[4]])
    assert on_time(recorded, days, LA).tolist() == [True, False, False, True, True]
    # the cut-off of a day is its own: a response recorded after 06-01's cut-off but
    # before 06-03's is on time for 06-03 only
    mid = np.array([cutoff_epoch(date(2021, 6, 2), LA)] * 2)
    assert on_time(mid, _days("2021-06-01", "2021-06-03"), LA).tolist() == [False, True]


def test_on_time_with_another_hour_and_zone():
    cut6 = _epoch("2021-06-02T13:00:00")  # 06:00 PDT
    got = on_time(np.array([cut6, cut6 + 1]), _days("2021-06-01", "2021-06-01"), LA, hour=6)
    assert got.tolist() == [True, False]
    cut_utc = _epoch("2021-06-02T04:00:00")
    got = on_time(np.array([cut_utc, cut_utc + 1]), _days("2021-06-01", "2021-06-01"), "UTC")
    assert got.tolist() == [True, False]


def test_on_time_of_no_responses_is_empty():
    got = on_time(np.zeros(0, dtype="int64"), np.zeros(0, dtype="datetime64[D]"), LA)
    assert got.shape == (0,)
    assert cutoff_epochs(np.zeros(0, dtype="datetime64[D]"), LA).dtype == np.int64


def test_on_time_follows_the_for_date_of_the_start():
    # started 23:30 PDT on 06-01 (06:30 UTC on 06-02): its day is 06-01, cut-off 06-02 04:00
    started = np.array([_epoch("2021-06-02T06:30:00")])
    days = for_dates(started, LA)
    assert days.astype(str).tolist() == ["2021-06-01"]
    assert on_time(np.array([_epoch("2021-06-02T11:00:00")]), days, LA).tolist() == [True]
    assert on_time(np.array([_epoch("2021-06-02T11:00:01")]), days, LA).tolist() == [False]


# --- the other questions of the clock ------------------------------------------------------


def test_cutoff_epochs_is_cutoff_epoch_per_value():
    days = _days("2021-03-12", "2021-03-13", "2021-11-06", "2021-03-12", "2021-06-01")
    expected = [cutoff_epoch(date.fromisoformat(str(d)), LA) for d in days]
    assert cutoff_epochs(days, LA).tolist() == expected
    assert cutoff_epochs(days, LA, hour=5).tolist() == [e + 3600 for e in expected]


def test_for_dates_at_local_midnight_on_dst_change_days():
    epochs = np.array([
        _epoch("2021-03-14T07:59:59"),  # 23:59:59 PST on 03-13
        _epoch("2021-03-14T08:00:00"),  # 00:00 PST on 03-14
        _epoch("2021-03-15T06:59:59"),  # 23:59:59 PDT on 03-14
        _epoch("2021-11-08T07:59:59"),  # 23:59:59 PST on 11-07
        _epoch("2021-11-07T06:59:59"),  # 23:59:59 PDT on 11-06
    ])  # fmt: skip
    got = for_dates(epochs, LA).astype(str).tolist()
    assert got == ["2021-03-13", "2021-03-14", "2021-03-14", "2021-11-07", "2021-11-06"]


def test_local_date_and_last_closed_day():
    moment = datetime(2021, 6, 2, 5, 0, tzinfo=UTC)  # 22:00 PDT on 06-01
    assert local_date(moment, LA) == date(2021, 6, 1)
    assert local_date(moment, "UTC") == date(2021, 6, 2)
    at_cut = datetime(2021, 3, 14, 11, 0, tzinfo=UTC)  # 04:00 PDT on spring-forward day
    assert last_closed_day(at_cut, LA) == date(2021, 3, 13)
    assert last_closed_day(at_cut - timedelta(seconds=1), LA) == date(2021, 3, 12)
    at_cut = datetime(2021, 11, 7, 12, 0, tzinfo=UTC)  # 04:00 PST on fall-back day
    assert last_closed_day(at_cut, LA) == date(2021, 11, 6)
    assert last_closed_day(at_cut - timedelta(seconds=1), LA) == date(2021, 11, 5)


def test_fmt_and_parse_as_of():
    assert fmt(date(2021, 6, 2)) == "2021_06_02"
    assert parse_as_of("2021-06-02T12:00:00Z") == datetime(2021, 6, 2, 12, tzinfo=UTC)
    assert parse_as_of("2021-06-02T12:00:00") == datetime(2021, 6, 2, 12, tzinfo=UTC)
    offset = parse_as_of("2021-06-02T05:00:00-07:00")
    assert offset == datetime(2021, 6, 2, 12, tzinfo=UTC)
    assert offset.utcoffset() == timedelta(hours=-7)
    now = parse_as_of(None)
    assert now.tzinfo is not None
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(ValueError):
        parse_as_of("not a time")
