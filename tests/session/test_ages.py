"""Ages (SPEC §4.2): age in days from the response's UTC date, rounded age."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from pipeline.session.ages import age_in_days, parse_birthday, round_age
from pipeline.session.outputs import build_outputs
from tests.session.factory import make_record, settings


@pytest.mark.parametrize(
    ("days", "rounded"),
    [
        (355, 360),  # 35.5 → 36 (even)
        (345, 340),  # 34.5 → 34 (even)
        (360, 360),  # the last age rounded to 10 days
        (361, 360),  # from here to 30 days: 12.03 → 12
        (365, 360),
        (375, 360),  # 12.5 → 12 (even)
        (376, 390),  # 12.53 → 13
        (405, 420),  # 13.5 → 14 (even)
        (435, 420),  # 14.5 → 14 (even)
        (0, 0),
        (4, 0),
        (6, 10),
        (1000, 990),
    ],
)
def test_round_age(days: int, rounded: int) -> None:
    assert round_age(days) == rounded


def test_age_uses_the_utc_date_of_the_response() -> None:
    birthday = "2023-03-01"
    # 18:00 in Los Angeles on 1 March is already 2 March in UTC.
    assert age_in_days("2024-03-01T10:00:00-08:00", birthday) == 366
    assert age_in_days("2024-03-01T18:00:00-08:00", birthday) == 367
    assert age_in_days("2024-03-02T01:59:59Z", birthday) == 367
    assert age_in_days(datetime(2024, 3, 1, 23, 59), date(2023, 3, 1)) == 366  # naive = UTC


def test_birthday_formats() -> None:
    assert parse_birthday("2020-02-29") == date(2020, 2, 29)
    assert parse_birthday("2020-02-29T04:00:00.000Z") == date(2020, 2, 29)
    with pytest.raises(ValueError):
        parse_birthday("29/02/2020")


def test_rounded_age_column_in_the_overview() -> None:
    created = datetime(2024, 3, 1, 18)
    ages = [355, 360, 361, 375, 376, 405, 435]
    records = [
        make_record(
            f"age{d}",
            child=f"age{d}",
            created=created.isoformat() + "Z",
            birthday=(created.date() - timedelta(days=d)).isoformat(),
        )
        for d in ages
    ]
    ident = settings(identifying=("child__age_in_days",))
    files = build_outputs(records, ident, {})
    frame = pd.read_csv(io.BytesIO(files["Physics-Study_all-responses-identifiable.csv"]))
    got = dict(zip(frame["child__age_in_days"], frame["child__age_rounded"], strict=True))
    assert got == {355: 360, 360: 360, 361: 360, 375: 360, 376: 390, 405: 420, 435: 420}
    default = pd.read_csv(
        io.BytesIO(build_outputs(records, settings(), {})["Physics-Study_all-responses.csv"])
    )
    assert "child__age_in_days" not in default.columns
    assert sorted(default["child__age_rounded"]) == [360, 360, 360, 360, 390, 420, 420]
