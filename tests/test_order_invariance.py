"""Property: how the same responses are split into files, and in which order the files
arrive, never changes what is published (SPEC §3.1 de-duplication, §3.4 collisions)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import Config
from pipeline.context import RunContext
from pipeline.panel.run import run_night
from pipeline.state.store import StateStore
from tests.exports import BASE_COLUMNS, export_bytes, response

WAVE1 = "SV_8zYl1sFN6fAFIxv"
WAVE1_COLUMNS = [c for c in BASE_COLUMNS if c not in ("A3", "Q40")]


def _responses() -> list[dict[str, str]]:
    rows = []
    for i in range(24):
        day = 1 + i % 3
        token = f"tok{i % 15}"  # several tokens answered more than once
        start = f"2021-06-0{day} {8 + i % 12:02d}:{i % 60:02d}:00"
        recorded = f"2021-06-0{day + (1 if i % 7 == 0 else 0)} 23:{i % 60:02d}:00"
        wave = WAVE1 if i % 4 == 0 else "SV_cT2ri3tFp2dhJGZ"
        rows.append(response(f"R{i:02d}", token, start, recorded, SurveyID=wave,
                             A2=str(i % 5), Q40=f"{i}.5", S1="1" if i % 9 else "2"))  # fmt: skip
    return rows


ROWS = _responses()


def _publish(root: Path, files: list[list[int]]) -> dict[str, str]:
    drop = root / "drop"
    drop.mkdir(parents=True)
    for n, idx in enumerate(files):
        rows = [ROWS[i] for i in idx]
        wave1 = [r for r in rows if r["SurveyID"] == WAVE1]
        other = [r for r in rows if r["SurveyID"] != WAVE1]
        if wave1:
            (drop / f"f{n:02d}_w1.csv").write_bytes(export_bytes(wave1, columns=WAVE1_COLUMNS))
        if other:
            (drop / f"f{n:02d}_w2.csv").write_bytes(export_bytes(other))
    cfg = Config(source=str(drop), publish=str(root / "pub"), archive=str(root / "arch"),
                 state=f"sqlite:///{root / 'state.db'}").validate()  # fmt: skip
    store = StateStore(cfg.state)
    ctx = RunContext(cfg, datetime(2021, 6, 8, 12, tzinfo=UTC), store, base_seq=store.last_seq())
    run_night(ctx)
    store.dispose()
    pub = root / "pub"
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in pub.iterdir()
        if p.name.startswith("cvid_responses") or p.name == "codebook.csv"
    }


_COUNTER = [0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, str]:
    """The files published from one export holding every row (pytest removes the folder)."""
    return _publish(tmp_path_factory.mktemp("order-ref"), [list(range(len(ROWS)))])


@st.composite
def _splits(draw) -> list[list[int]]:
    order = draw(st.permutations(range(len(ROWS))))
    cuts = sorted(draw(st.sets(st.integers(1, len(ROWS) - 1), max_size=5)))
    parts = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, len(ROWS)], strict=True)]
    # overlapping export windows: some rows delivered twice
    extra = draw(st.lists(st.integers(0, len(ROWS) - 1), max_size=4))
    if extra:
        parts.append(extra)
    return draw(st.permutations(parts))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=_splits())
def test_split_and_order_do_not_change_output(tmp_path, reference, files):
    _COUNTER[0] += 1
    got = _publish(tmp_path / f"case{_COUNTER[0]}", files)
    assert got == reference
    assert len(reference) >= 4  # several daily files, the cumulative file and the codebook
