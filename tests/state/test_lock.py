"""The command line's check of the run lock before Dagster starts."""

from __future__ import annotations

import pytest

from pipeline.state.lock import RunInProgressError, file_lock, probe


def test_probe_refuses_while_the_lock_is_held(tmp_path):
    db = tmp_path / "state.db"
    probe(f"sqlite:///{db}")  # free
    with file_lock(str(db)):
        with pytest.raises(RunInProgressError, match="another run is in progress"):
            probe(f"sqlite:///{db}")
    probe(f"sqlite:///{db}")


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///{tmp}/no/such/state.db"]
)
def test_probe_passes_when_nothing_can_hold_the_lock(tmp_path, url):
    probe(url.format(tmp=tmp_path))
    assert not (tmp_path / "no").exists()
