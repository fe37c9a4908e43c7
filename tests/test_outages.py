"""pipeline.outages: OUTAGES.txt entries (Pacific time, kind, days, message) and the file,
newest entry first, existing entries never edited (SPEC §3.6)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pipeline import outages
from pipeline.state.store import StateStore

LA = "America/Los_Angeles"
SUMMER = datetime(2021, 6, 2, 12, 0, tzinfo=UTC)
WINTER = datetime(2021, 12, 2, 12, 0, 5, tzinfo=UTC)


def test_entry_has_pacific_time_kind_days_and_message():
    e = outages.entry("DELAY", "Publication held: check failed.", ["2021-06-01"],
                      at=SUMMER, timezone=LA, run_id="r1")  # fmt: skip
    assert e == {
        "created": "2021-06-02 05:00:00 PDT",
        "kind": "DELAY",
        "days": "2021-06-01",
        "message": "Publication held: check failed.",
        "run_id": "r1",
    }
    assert outages.entry("NOTICE", "m", at=WINTER, timezone=LA)["created"] == (
        "2021-12-02 04:00:05 PST"
    )


def test_entry_time_is_the_study_zone_local_date():
    late = datetime(2021, 6, 2, 6, 30, tzinfo=UTC)  # still 06-01 in California
    assert outages.entry("NOTICE", "m", at=late, timezone=LA)["created"] == (
        "2021-06-01 23:30:00 PDT"
    )
    assert outages.entry("NOTICE", "m", at=late, timezone="UTC")["created"] == (
        "2021-06-02 06:30:00 UTC"
    )


def test_entry_days_are_sorted_unique_iso_dates():
    e = outages.entry(
        "CORRECTION", "2 rows replaced",
        [date(2021, 6, 3), "2021-06-01", date(2021, 6, 1), "2021-05-31"],
        at=SUMMER, timezone=LA,
    )  # fmt: skip
    assert e["days"] == "2021-05-31,2021-06-01,2021-06-03"
    assert outages.entry("NOTICE", "m", at=SUMMER, timezone=LA)["days"] == ""
    assert outages.entry("NOTICE", "m", at=SUMMER, timezone=LA)["run_id"] is None


def test_entry_message_is_one_line():
    e = outages.entry("NOTICE", "  first line\n\tsecond   line \r\n", at=SUMMER, timezone=LA)
    assert e["message"] == "first line second line"


@pytest.mark.parametrize("kind", ["delay", "WARNING", "", "NOTICE "])
def test_entry_refuses_unknown_kinds(kind):
    with pytest.raises(ValueError, match="kind must be one of DELAY, CORRECTION, NOTICE"):
        outages.entry(kind, "m", at=SUMMER, timezone=LA)


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_entry_needs_a_message(message):
    with pytest.raises(ValueError, match="needs a message"):
        outages.entry("NOTICE", message, at=SUMMER, timezone=LA)


def test_render_puts_entries_in_the_given_order_newest_first():
    old = outages.entry("DELAY", "late input", ["2021-06-01"], at=SUMMER, timezone=LA)
    new = outages.entry("CORRECTION", "1 row replaced", ["2021-05-20", "2021-05-21"],
                        at=WINTER, timezone=LA)  # fmt: skip
    text = outages.render([new, old]).decode("utf-8")
    assert text == (
        outages.HEADER
        + "\n2021-12-02 04:00:05 PST  CORRECTION  for: 2021-05-20,2021-05-21\n"
        + "  1 row replaced\n"
        + "\n2021-06-02 05:00:00 PDT  DELAY  for: 2021-06-01\n"
        + "  late input\n"
    )
    body = text[len(outages.HEADER) :]
    assert body.index("CORRECTION") < body.index("DELAY")


def test_render_of_no_entries_and_of_an_entry_without_days():
    assert outages.render([]) == outages.HEADER.encode()
    e = outages.entry("NOTICE", "Caf\u00e9 note", at=SUMMER, timezone=LA)
    data = outages.render([e])
    assert data.endswith("for: -\n  Caf\u00e9 note\n".encode())
    assert data.decode("utf-8").count("\n") == outages.HEADER.count("\n") + 3


def test_new_entries_go_on_top_and_existing_text_is_never_edited(tmp_path):
    """Entries as the state keeps them (a real SQLite store): every later OUTAGES.txt ends
    with the earlier one's entries, byte for byte."""
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        texts = []
        for i, at in enumerate([SUMMER, WINTER, datetime(2022, 1, 5, 20, tzinfo=UTC)]):
            store.add_outage(outages.entry("NOTICE", f"entry {i}", [f"2021-06-0{i + 1}"],
                                           at=at, timezone=LA, run_id=f"r{i}"))  # fmt: skip
            texts.append(outages.render(store.outages()))
    finally:
        store.dispose()
    header = outages.HEADER.encode()
    for earlier, later in zip(texts, texts[1:], strict=False):
        assert later.startswith(header)
        assert later.endswith(earlier[len(header) :])
        assert len(later) > len(earlier)
    last = texts[-1].decode()
    assert last.index("entry 2") < last.index("entry 1") < last.index("entry 0")
    assert "2022-01-05 12:00:00 PST  NOTICE  for: 2021-06-03\n  entry 2\n" in last
