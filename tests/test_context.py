"""pipeline.context.RunContext: a run's id, its clock in the study's time zone (the
`recorded` date, the last closed day) and the empty record of what it will commit."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.config import Config, PanelRules
from pipeline.context import RunContext
from pipeline.state.lock import RunInProgressError
from pipeline.state.store import RunChanges, StateStore

LA = "America/Los_Angeles"


@pytest.fixture
def store(tmp_path):
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.dispose()


def _ctx(tmp_path: Path, store: StateStore, as_of: datetime, **cfg) -> RunContext:
    config = Config(
        state=store.url, archive=str(tmp_path / "archive"), publish=str(tmp_path / "pub"), **cfg
    )
    return RunContext(config, as_of, store)


def test_new_changes_fills_the_run_clock_base_and_scratch(tmp_path, store):
    ctx = _ctx(tmp_path, store, datetime(2021, 6, 2, 5, 30, tzinfo=UTC))
    ch = ctx.new_changes(7)
    assert isinstance(ch, RunChanges)
    assert ch.run_id == ctx.run_id
    assert ch.as_of == "2021-06-02T05:30:00+00:00"
    assert ch.recorded == "2021-06-01"  # 22:30 PDT
    assert ch.base_seq == 7
    assert (
        ch.scratch == str(ctx.run_dir) == str(tmp_path / "archive" / "_work" / "runs" / ctx.run_id)
    )
    assert Path(ch.scratch).is_dir()
    assert (ch.files, ch.published, ch.removed, ch.outages, ch.days) == ([], [], [], [], [])
    assert ch.ledger_rows is None and ch.settings is None and not ch.replace_derived
    assert ctx.new_changes().base_seq == 0


def test_each_new_changes_is_a_fresh_record(tmp_path, store):
    ctx = _ctx(tmp_path, store, datetime(2021, 6, 2, 12, tzinfo=UTC))
    first = ctx.new_changes()
    first.outages.append({"kind": "NOTICE"})
    first.published.append({"name": "x"})
    second = ctx.new_changes()
    assert second.outages == [] and second.published == []


def test_the_base_seq_is_what_the_commit_checks(tmp_path, store):
    ctx = _ctx(tmp_path, store, datetime(2021, 6, 2, 12, tzinfo=UTC))
    stale = ctx.new_changes(store.last_seq())
    assert store.commit(ctx.new_changes(store.last_seq())) == 1
    with pytest.raises(RunInProgressError, match="state changed under this run"):
        store.commit(stale)  # read seq 0, but run 1 committed since
    assert store.last_seq() == 1


def test_run_ids_sort_by_clock_and_are_unique(tmp_path, store):
    as_of = datetime(2021, 6, 2, 5, 0, 9, tzinfo=timezone(timedelta(hours=-7)))
    a = _ctx(tmp_path, store, as_of)
    b = _ctx(tmp_path, store, as_of)
    assert re.fullmatch(r"20210602T120009Z-[0-9a-f]{8}", a.run_id)  # in UTC
    assert a.run_id != b.run_id
    later = _ctx(tmp_path, store, as_of + timedelta(seconds=1))
    assert max(a.run_id, b.run_id) < later.run_id
    given = RunContext(a.cfg, as_of, store, run_id="my-run")
    assert given.run_id == "my-run" and given.run_dir.is_dir()


def test_a_naive_clock_is_refused(tmp_path, store):
    with pytest.raises(ValueError, match="timezone-aware"):
        _ctx(tmp_path, store, datetime(2021, 6, 2, 12))


def test_recorded_is_the_date_in_the_study_zone(tmp_path, store):
    evening = datetime(2021, 6, 2, 5, 0, tzinfo=UTC)  # 22:00 PDT on 06-01
    assert _ctx(tmp_path, store, evening).recorded == date(2021, 6, 1)
    assert _ctx(tmp_path, store, evening, timezone="UTC").recorded == date(2021, 6, 2)
    assert _ctx(tmp_path, store, evening, timezone="Asia/Tokyo").recorded == date(2021, 6, 2)
    winter = datetime(2021, 12, 2, 7, 59, 59, tzinfo=UTC)  # 23:59:59 PST on 12-01
    assert _ctx(tmp_path, store, winter).recorded == date(2021, 12, 1)
    assert _ctx(tmp_path, store, winter + timedelta(seconds=1)).recorded == date(2021, 12, 2)


@pytest.mark.parametrize(
    ("as_of", "closed"),
    [
        ("2021-06-02T11:00:00", "2021-06-01"),  # 04:00 PDT: 06-01's cut-off
        ("2021-06-02T10:59:59", "2021-05-31"),
        ("2021-12-02T12:00:00", "2021-12-01"),  # 04:00 PST
        ("2021-12-02T11:59:59", "2021-11-30"),
        ("2021-03-14T11:00:00", "2021-03-13"),  # 04:00 PDT on the spring-forward day
        ("2021-03-14T10:59:59", "2021-03-12"),
        ("2021-11-07T12:00:00", "2021-11-06"),  # 04:00 PST on the fall-back day
        ("2021-11-07T11:59:59", "2021-11-05"),
        ("2021-06-03T06:59:59", "2021-06-01"),  # 23:59:59 PDT on 06-02
    ],
)
def test_last_closed_follows_the_4am_pacific_cutoff(tmp_path, store, as_of, closed):
    ctx = _ctx(tmp_path, store, datetime.fromisoformat(as_of).replace(tzinfo=UTC))
    assert ctx.last_closed == date.fromisoformat(closed)


def test_last_closed_follows_the_configured_zone_and_hour(tmp_path, store):
    at = datetime(2021, 6, 2, 11, 0, tzinfo=UTC)  # 04:00 PDT
    six = _ctx(tmp_path, store, at, rules=PanelRules(cutoff_hour=6))
    assert six.last_closed == date(2021, 5, 31)
    assert _ctx(
        tmp_path, store, at.replace(hour=13), rules=PanelRules(cutoff_hour=6)
    ).last_closed == (date(2021, 6, 1))
    utc = _ctx(tmp_path, store, datetime(2021, 6, 2, 4, 0, tzinfo=UTC), timezone="UTC")
    assert utc.last_closed == date(2021, 6, 1)
    assert _ctx(tmp_path, store, datetime(2021, 6, 2, 3, 59, 59, tzinfo=UTC),
                timezone="UTC").last_closed == date(2021, 5, 31)  # fmt: skip
