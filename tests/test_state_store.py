"""The state database on SQLite and PostgreSQL: atomic commits, the run lock, stale runs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from pipeline.state import schema
from pipeline.state.errors import StateError
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
            "on_time_day": ["2021-06-01"] * len(tokens),
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
    with pytest.raises(StateError, match="commit: upsert into published_files failed") as err:
        store.commit(bad)
    # the error names the statement's kind and code, never its values (SPEC §6)
    assert re.search(
        r"\(INSERT statement, (SQLSTATE 23502|SQLITE_CONSTRAINT_NOTNULL)", str(err.value)
    )
    assert "x.csv" not in str(err.value) and err.value.__suppress_context__
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


def _big_ledger(n: int, offset: int = 0) -> pa.Table:
    ids = np.arange(offset, offset + n)
    rng = np.random.default_rng(offset)
    order = rng.permutation(n)  # not in key order: the commit sorts
    return pa.table({
        "token": pa.array([f"t{i:07d}" for i in ids[order]]),
        "response_id": pa.array([f"R{i}" for i in ids[order]]),
        "start": pa.array(ids[order] * 10),
        "recorded": pa.array(ids[order] * 10 + 5),
        "day": pa.array(["2021-06-01", "2021-06-02"] * (n // 2)),
        "eligible": pa.array(ids[order] % 3 != 0),
        "reason": pa.array([None if i % 3 else "preview" for i in ids[order]], pa.string()),
        "on_time_day": pa.array([None if i % 5 == 0 else "2021-06-01" for i in ids[order]]),
        "cid_day": pa.nulls(n, pa.string()),
        "cid_pending": pa.array(ids[order] % 5 != 0),
    })  # fmt: skip


def _ledger_dump(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(schema.ledger).order_by("token"))]
    finally:
        engine.dispose()


def test_large_ledger_writes_on_sqlite(tmp_path):
    """A first run's large ledger write, then one that replaces known tokens and adds new
    ones: every value comes back exactly, and the partial index of pending tokens holds."""
    from pipeline.state.store import BULK_MIN_ROWS

    n = BULK_MIN_ROWS + 2
    first, second = _big_ledger(n), _big_ledger(n, offset=n // 2)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(url)
    scratch = tmp_path / "run"
    scratch.mkdir()
    for ch in (_changes("r1", 0, ledger_rows=first), _changes("r2", 1, ledger_rows=second)):
        ch.scratch = str(scratch)
        store.commit(ch)
        assert list(scratch.iterdir()) == []  # staged in the run's folder, then removed
    assert store.last_seq() == 2
    pending = set(store.cid_pending()["token"])
    assert len(pending) == sum(1 for i in range(n // 2 + n) if i % 5)
    store.dispose()
    expected = {r["token"]: tuple(r.values()) for r in first.to_pylist()}
    expected.update({r["token"]: tuple(r.values()) for r in second.to_pylist()})
    dump = _ledger_dump(url)
    assert len(dump) == n // 2 + n and dump == [expected[t] for t in sorted(expected)]
    # types come back as written (booleans, NULLs), not as the staging file's storage
    assert dump[0][:4] == ("t0000000", "R0", 0, 5) and dump[0][4] in ("2021-06-01", "2021-06-02")
    assert dump[0][5:] == (False, "preview", None, None, False)


def test_large_ledger_write_rolls_back_with_the_run(tmp_path):
    from pipeline.state.store import BULK_MIN_ROWS

    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(url)
    scratch = tmp_path / "run"
    scratch.mkdir()
    ch = _changes("r1", 3, ledger_rows=_big_ledger(BULK_MIN_ROWS))  # a stale base: refused
    ch.scratch = str(scratch)
    with pytest.raises(RunInProgressError):
        store.commit(ch)
    assert _ledger_dump(url) == [] and store.last_seq() == 0
    assert list(scratch.iterdir()) == []  # the staging file went with the transaction
    assert store.commit(_changes("r1", 0, ledger_rows=_ledger(["a"]))) == 1


def test_published_loads_only_the_daily_versions_asked_for(state_url):
    store = StateStore(state_url)

    def row(name, kind):
        return {"name": name, "kind": kind, "sha256": name[:1] * 64, "size": 1, "day": None,
                "recorded": "2021-06-02", "run_id": "r1", "removed": False}  # fmt: skip

    rows = [row(f"d{i}.csv", "daily") for i in range(5)] + [
        row("runs/x.json", "run"),
        row("c.csv.gz", "cumulative"),
        row("OUTAGES.txt", "outages"),
    ]
    store.commit(_changes("r1", 0, published=rows, removed=["d4.csv"]))
    got = store.published(["d1.csv", "d4.csv", "runs/x.json"])
    assert sorted(got) == ["OUTAGES.txt", "c.csv.gz", "d1.csv", "runs/x.json"]
    assert sorted(store.published()) == sorted(r["name"] for r in rows[:4] + rows[5:])
    assert store.checksums() == {r["name"]: r["sha256"] for r in rows if r["name"] != "d4.csv"}


def test_postgres_bulk_ledger_write_through_copy(postgres_url):
    """Large ledger writes on PostgreSQL go through COPY into a temporary table and one
    upsert; values (NULL vs empty text, quotes, commas, booleans) come back exactly."""
    from pipeline.state.store import BULK_MIN_ROWS

    n = BULK_MIN_ROWS + 2
    first, second = _big_ledger(n), _big_ledger(n, offset=n // 2)
    odd = pa.array(['say "hi", ok', "", None] + [None] * (n - 3), pa.string())
    second = second.set_column(second.column_names.index("reason"), "reason", odd)
    store = StateStore(postgres_url)
    store.commit(_changes("r1", 0, ledger_rows=first))
    store.commit(_changes("r2", 1, ledger_rows=second))
    expected = {r["token"]: tuple(r.values()) for r in first.to_pylist()}
    expected.update({r["token"]: tuple(r.values()) for r in second.to_pylist()})
    dump = _ledger_dump(postgres_url)
    assert len(dump) == len(expected) and dump == [expected[t] for t in sorted(expected)]
    assert {r[6] for r in dump} >= {'say "hi", ok', "", None, "preview"}
    store.dispose()


def _weights(n: int, file: str, offset: int = 0) -> pa.Table:
    return pa.table({
        "cid": pa.array([f"t{i:07d}" for i in range(offset, offset + n)]),
        "weight": pa.array([f"{i % 7 + 0.5}" for i in range(offset, offset + n)]),
        "file": pa.array([file] * n),
    })  # fmt: skip


@pytest.mark.parametrize("many", [False, True])
def test_weights_are_written_and_looked_up_as_tables(state_url, tmp_path, many):
    """Weights travel as Arrow tables (a large first delivery is staged on SQLite): a later
    run's weights replace those of the same tokens, and lookups return exactly the stored
    weights of the tokens asked for."""
    from pipeline.state.store import BULK_MIN_ROWS

    n = BULK_MIN_ROWS + 3 if many else 50
    store = StateStore(state_url)
    assert store.weights_for(["t0000001"]).num_rows == 0  # nothing stored yet
    scratch = tmp_path / "run"
    scratch.mkdir()
    first = _changes("r1", 0, weights=_weights(n, "a_finish_full_survey_weights.csv"))
    first.scratch = str(scratch)
    store.commit(first)
    assert list(scratch.iterdir()) == []
    store.commit(_changes("r2", 1, weights=_weights(2, "b_finish_full_survey_weights.csv", n - 1)))
    got = store.weights_for(["t0000000", f"t{n - 1:07d}", f"t{n:07d}", "nobody"])
    assert sorted(got.to_pylist(), key=lambda r: r["cid"]) == [
        {"cid": "t0000000", "weight": "0.5", "file": "a_finish_full_survey_weights.csv"},
        {"cid": f"t{n - 1:07d}", "weight": f"{(n - 1) % 7 + 0.5}",
         "file": "b_finish_full_survey_weights.csv"},
        {"cid": f"t{n:07d}", "weight": f"{n % 7 + 0.5}",
         "file": "b_finish_full_survey_weights.csv"},
    ]  # fmt: skip
    assert store.weights_for([f"t{i:07d}" for i in range(n + 1)]).num_rows == n + 1
