"""Per-day partitions: re-publish a day through Dagster; parallel-safe locking."""

from __future__ import annotations

from dagster import DagsterInstance

from pipeline import definitions
from pipeline.state.store import RunInProgressError, StateStore
from tests.exports import response, write_export
from tests.study import Study


def _republish(study: Study, day: str, as_of: str):
    cfg = {"config_path": str(study.config), "as_of": as_of, "shared_lock": True}
    return definitions.defs.resolve_job_def("republish_days").execute_in_process(
        run_config={"resources": {"study_day": {"config": cfg}}},
        partition_key=day,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_republish_one_partition(tmp_path):
    study = Study(tmp_path, options={"reissue": "changed", "stabilization_days": 0})
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    assert study.run("2021-06-02T12:00:00Z") == 0
    first = study.pub / "cvid_responses_2021_06_01_recordedby_2021_06_02.csv"
    result = _republish(study, "2021-06-01", "2021-06-09T12:00:00Z")
    assert result.success
    again = study.pub / "cvid_responses_2021_06_01_recordedby_2021_06_09.csv"
    assert again.read_bytes() == first.read_bytes()
    assert again.stat().st_ino == first.stat().st_ino  # unchanged: a link, not a re-upload
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    # the state knows the new version: the next nightly run does not publish it again
    rows = StateStore(f"sqlite:///{tmp_path / 'state.db'}").days()
    assert rows["2021-06-01"]["published_name"] == again.name


def test_open_day_is_refused(tmp_path):
    study = Study(tmp_path)
    result = _republish(study, "2021-06-05", "2021-06-05T12:00:00Z")
    assert not result.success


def test_partition_runs_share_the_lock_but_exclude_the_nightly(tmp_path):
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    with store.run_lock(shared=True), store.run_lock(shared=True):
        with store.run_lock(name="day-2021-06-01"):
            try:
                with store.run_lock(name="day-2021-06-01"):
                    raise AssertionError("a day lock must be exclusive")
            except RunInProgressError:
                pass
        try:
            with store.run_lock():
                raise AssertionError("the nightly run must wait for partitions")
        except RunInProgressError:
            pass
