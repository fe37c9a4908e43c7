"""The state database on SQLite and PostgreSQL: atomic commits, the run lock, stale runs."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from pipeline.state import schema
from pipeline.state.store import RunChanges, RunInProgressError, StateStore


def _ledger(tokens: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "token": tokens,
            "response_id": [f"R{t}" for t in tokens],
            "start": [1, 2, 3][: len(tokens)],
            "recorded": [5, 6, 7][: len(tokens)],
            "day": ["2021-06-01"] * len(tokens),
            "eligible": [True] * len(tokens),
            "reason": [None] * len(tokens),
            "eligible_day": ["2021-06-01"] * len(tokens),
            "cid_day": [None] * len(tokens),
            "cid_pending": [True] * len(tokens),
        }
    )


def _changes(run: str, base: int, **kw) -> RunChanges:
    return RunChanges(run_id=run, as_of="2021-06-02T12:00:00+00:00", recorded="2021-06-02",
                      base_seq=base, **kw)  # fmt: skip


def test_commit_and_read_back(state_url):
    store = StateStore(state_url)
    seq = store.commit(_changes("r1", 0, ledger_rows=_ledger(["a", "b"])))
    assert seq == 1 and store.last_seq() == 1
    rows = store.ledger_rows(["a", "b", "zz"])
    assert sorted(rows["token"]) == ["a", "b"]
    # upsert: a later run replaces a token's row
    changed = _ledger(["a"]).assign(response_id="Rnew")
    store.commit(_changes("r2", 1, ledger_rows=changed, cid_listed={"2021-06-01": ["b"]}))
    rows = store.ledger_rows(["a", "b"]).set_index("token")
    assert rows.loc["a", "response_id"] == "Rnew"
    assert rows.loc["b", "cid_day"] == "2021-06-01" and not rows.loc["b", "cid_pending"]
    assert sorted(store.cid_pending()["token"]) == ["a"]
    store.dispose()


def test_failed_commit_changes_nothing(state_url):
    store = StateStore(state_url)
    store.commit(_changes("r1", 0, ledger_rows=_ledger(["a"])))
    bad = _changes(
        "r2",
        1,
        ledger_rows=_ledger(["b"]),
        published=[{"name": "x.csv", "kind": "daily", "sha256": None, "size": 1, "run_id": "r2"}],
    )  # fmt: skip  (sha256 is NOT NULL: the commit must fail after the ledger rows went in)
    with pytest.raises(sa.exc.IntegrityError):
        store.commit(bad)
    assert store.ledger_rows(["b"]).empty
    assert store.last_seq() == 1
    with store.engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(schema.published_files)).scalar()
            == 0
        )
    store.dispose()


def test_commit_from_a_stale_base_is_refused(state_url):
    store = StateStore(state_url)
    store.commit(_changes("r1", 0))
    with pytest.raises(RunInProgressError, match="state changed under this run"):
        store.commit(_changes("r2", 0, ledger_rows=_ledger(["a"])))
    assert store.ledger_rows(["a"]).empty
    store.dispose()


def test_run_lock_is_exclusive(state_url):
    first, second = StateStore(state_url), StateStore(state_url)
    with first.run_lock():
        with pytest.raises(RunInProgressError, match="another run is in progress"):
            with second.run_lock():
                pass
    with second.run_lock():  # released
        pass
    first.dispose()
    second.dispose()
