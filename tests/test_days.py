"""Day partitions: a backfill of any day range is one run that re-renders, checks and
re-publishes the days, with SHA256SUMS and a run manifest at once."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dagster import AssetKey, BackfillPolicy, DagsterInstance

from assets.definitions import build_definitions
from assets.launch import RANGE_END_TAG, RANGE_START_TAG
from assets.study import load_study
from pipeline import checksums
from pipeline.cli import main
from pipeline.locations.local import LocalLocation
from pipeline.state.store import StateStore
from tests.exports import response, write_export
from tests.study import Study

NAME = "cvid_responses_2021_06_0{}_recordedby_2021_06_{}.csv"


def _three_days(tmp_path) -> Study:
    study = Study(tmp_path, options={"reissue": "changed", "stabilization_days": 0})
    write_export(study.drop, "e.csv", [
        response(f"R{d}", f"t{d}", f"2021-06-0{d} 10:00:00") for d in (1, 2, 3)
    ])  # fmt: skip
    assert study.run("2021-06-04T12:00:00Z") == 0
    return study


def _sums(study: Study) -> dict[str, str]:
    """Every published file the SHA256SUMS files list (one per folder)."""
    return checksums.read(LocalLocation(study.pub))


def test_backfill_of_a_range_is_one_run_with_sums_and_manifest(tmp_path):
    study = _three_days(tmp_path)
    assert main(["backfill", "--config", str(study.config), "--from", "2021-06-01",
                 "--to", "2021-06-03", "--as-of", "2021-06-09T12:00:00Z"]) == 0  # fmt: skip
    for d in (1, 2, 3):
        again, first = study.pub / NAME.format(d, "09"), study.pub / NAME.format(d, "04")
        assert again.read_bytes() == first.read_bytes()
        assert again.stat().st_ino == first.stat().st_ino  # unchanged: a link, not an upload
    sums = _sums(study)
    for name in study.files():
        if not checksums.is_sums(name):
            assert sums[name] == hashlib.sha256((study.pub / name).read_bytes()).hexdigest()
    manifests = [f for f in study.files() if f.startswith("runs/2021_06_09_")]
    assert len(manifests) == 1  # one run for the whole range
    manifest = json.loads(study.text(manifests[0]))
    assert sorted(manifest["reissued_by_link"]) == [NAME.format(d, "09") for d in (1, 2, 3)]
    rows = StateStore(f"sqlite:///{tmp_path / 'state.db'}").days()
    assert rows["2021-06-02"]["published_name"] == NAME.format(2, "09")
    # the next nightly run knows these versions: it does not publish them again
    assert study.run("2021-06-09T13:00:00Z") == 0
    newest = sorted(f for f in study.files() if f.startswith("runs/2021_06_09_"))
    night = json.loads(study.text(next(m for m in newest if m not in manifests)))
    again = night["published"] + night["reissued_by_link"]
    old_days = tuple(f"cvid_responses_2021_06_0{d}_" for d in (1, 2, 3))
    assert not [f for f in again if f.startswith(old_days) and "_recordedby_" in f]


def test_the_day_asset_backfills_a_range_in_one_run_and_records_partitions(tmp_path):
    study = _three_days(tmp_path)
    defs = build_definitions([load_study(study.config)])
    day_file = defs.resolve_assets_def(AssetKey(["config", "day_file"]))
    assert day_file.backfill_policy == BackfillPolicy.single_run()
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("config_days").execute_in_process(
        run_config={"resources": {"config_study": {"config": {
            "config_path": str(study.config), "as_of": "2021-06-09T12:00:00Z"}}}},
        instance=instance,
        tags={RANGE_START_TAG: "2021-06-02", RANGE_END_TAG: "2021-06-03"},
    )  # fmt: skip
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    parts = instance.get_materialized_partitions(AssetKey(["config", "day_file"]))
    assert parts == {"2021-06-02", "2021-06-03"}
    assert NAME.format(1, "09") not in study.files()  # outside the range: untouched
    # each day its own rows, `recorded` date and SHA-256, as SHA256SUMS lists them
    sums = _sums(study)
    records = instance.fetch_materializations(AssetKey(["config", "day_file"]), limit=10).records
    by_day = {r.asset_materialization.partition: r.asset_materialization for r in records}
    for day in ("2021-06-02", "2021-06-03"):
        md = by_day[day].metadata
        assert md["rows"].value == 1 and md["recorded"].value == "2021-06-09"
        assert md["file"].value.startswith(f"cvid_responses_{day.replace('-', '_')}_recordedby")
        assert sums[md["file"].value] == md["sha256"].value
        assert md["job"].value == "config_days"


def test_open_day_is_refused(tmp_path, capsys):
    study = _three_days(tmp_path)
    assert main(["backfill", "--config", str(study.config), "--from", "2021-06-03",
                 "--to", "2021-06-05", "--as-of", "2021-06-05T12:00:00Z"]) == 1  # fmt: skip
    assert "2021-06-05 is not closed yet" in capsys.readouterr().err


def test_a_backfill_needs_no_clock_and_leaves_out_days_never_published(tmp_path, capsys):
    """A backfill today (no --as-of: the clock is now, years after the data) re-renders the
    published days with today's `recorded` date; the clock gap is not its concern; days of
    the range never published are left out; the cumulative file ends at the newest day."""
    study = _three_days(tmp_path)
    today = datetime.now(UTC).astimezone(ZoneInfo("America/Los_Angeles")).date()
    assert main(["backfill", "--config", str(study.config),
                 "--from", "2021-05-30", "--to", "2021-06-02"]) == 0  # fmt: skip
    stamp = today.strftime("%Y_%m_%d")
    again = [f for f in study.files() if f"_recordedby_{stamp}." in f]
    assert [f[15:25] for f in sorted(again)] == ["2021_06_01", "2021_06_02"]
    assert not [f for f in study.files() if f.startswith(("cvid_responses_2021_05",))]
    [cumulative] = [f for f in study.files() if "_-_" in f]
    assert cumulative == "cumulative/cvid_responses_2021_06_01_-_2021_06_03.csv.gz"
    check = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=study.pub)
    assert check.returncode == 0


def test_partitions_begin_at_the_study_first_day(tmp_path):
    """SPEC §7: a study's partitions start at its first published day (or its `first_day`
    setting), not at one date for every study; a new study's start today."""
    from assets.days import first_partition_day
    from assets.study import load_study

    new = Study(tmp_path / "new")
    today = datetime.now(ZoneInfo("America/Los_Angeles")).date().isoformat()
    assert first_partition_day(load_study(new.config)) == today
    study = _three_days(tmp_path / "old")
    assert first_partition_day(load_study(study.config)) == "2021-06-01"
    defs = build_definitions([load_study(study.config)])
    pdef = defs.resolve_assets_def(AssetKey(["config", "day_file"])).partitions_def
    assert pdef.get_first_partition_key() == "2021-06-01"
    study.configure(first_day="2021-05-15")
    assert first_partition_day(load_study(study.config)) == "2021-05-15"


def test_a_failed_backfill_leaves_published_days_as_they_were(tmp_path):
    """SPEC §7: a backfill run that fails before publishing fails as a run, but the days it
    covered keep their materialized status (their files are still out, unchanged); a day
    never published of the range is the one that shows Failed."""
    from dagster import AssetPartitionStatus

    study = _three_days(tmp_path)
    defs = build_definitions([load_study(study.config)])
    key = AssetKey(["config", "day_file"])
    pdef = defs.resolve_assets_def(key).partitions_def
    job = defs.resolve_job_def("config_days")
    instance = DagsterInstance.ephemeral()

    def backfill(as_of: str, first: str, last: str):
        return job.execute_in_process(
            run_config={"resources": {"config_study": {"config": {
                "config_path": str(study.config), "as_of": as_of}}}},
            instance=instance, tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
            raise_on_error=False,
        )  # fmt: skip

    assert backfill("2021-06-09T12:00:00Z", "2021-06-02", "2021-06-03").success
    before = sorted(study.files())
    # a clock earlier than the last run's: refused before anything is published
    failed = backfill("2021-06-05T12:00:00Z", "2021-06-02", "2021-06-04")
    assert not failed.success
    [failure] = failed.get_step_failure_events()
    assert "earlier than the last committed run" in str(failure.event_specific_data.error)
    assert sorted(study.files()) == before
    days = ["2021-06-02", "2021-06-03", "2021-06-04"]
    status = instance.get_status_by_partition(key, days, pdef)
    assert status["2021-06-02"] == status["2021-06-03"] == AssetPartitionStatus.MATERIALIZED
    assert status["2021-06-04"] == AssetPartitionStatus.FAILED
    records = instance.fetch_materializations(key, limit=10).records
    md = next(r for r in records if r.run_id == failed.run_id).asset_materialization.metadata
    assert md["recorded"].value == "2021-06-09"  # the file already out, as it was
