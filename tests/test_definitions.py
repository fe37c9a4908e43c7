"""The Dagster code location: several studies, their jobs, schedules, sensors and signals;
the nightly job under the multiprocess executor and re-executed from a failed step."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    DagsterInvalidConfigError,
    ReexecutionOptions,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    execute_job,
    reconstructable,
)

from assets.definitions import build_definitions
from assets.study import load_studies, load_study
from tests.exports import response, write_export
from tests.session_study import SessionStudy
from tests.study import Study

ROOT = Path(__file__).resolve().parent.parent
PANEL_STAGES = {
    "raw_exports", "normalized_responses", "eligible_responses", "response_ledger",
    "lag_policy", "day_partitions", "published_files", "day_file",
}  # fmt: skip


def _defs(*configs: Path):
    return build_definitions([load_study(c) for c in configs])


def _run(study: Study, as_of: str, **extra):
    defs = _defs(study.config)
    job = defs.resolve_job_def("config_nightly")
    return job.execute_in_process(
        run_config={"resources": {"config_study": {"config": {
            "config_path": str(study.config), "as_of": as_of, **extra}}}},
        instance=DagsterInstance.ephemeral(), raise_on_error=False,
    )  # fmt: skip


def test_one_study_from_pipeline_config(tmp_path, monkeypatch):
    study = Study(tmp_path)
    monkeypatch.setenv("PIPELINE_CONFIG", str(study.config))
    monkeypatch.delenv("PIPELINE_STUDIES", raising=False)
    [only] = load_studies()
    defs = build_definitions([only])
    keys = {tuple(k.path) for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {("config", s) for s in PANEL_STAGES}
    schedule = defs.resolve_schedule_def("config_nightly_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == (
        "30 5 * * *", "America/Los_Angeles",
    )  # fmt: skip
    assert (
        defs.resolve_job_def("config_nightly").executor_def.name == "multi_or_in_process_executor"
    )


def test_several_studies_side_by_side(tmp_path, monkeypatch):
    panel = Study(tmp_path / "p")
    session = SessionStudy(tmp_path / "s")
    folder = tmp_path / "studies"
    folder.mkdir()
    berlin = yaml.safe_load(panel.config.read_text())
    berlin.update(timezone="Europe/Berlin", rules={"cutoff_hour": 6})
    (folder / "alpha.yaml").write_text(yaml.safe_dump(berlin))
    shutil.copy(session.config, folder / "beta.yaml")
    monkeypatch.setenv("PIPELINE_STUDIES", str(folder))
    defs = build_definitions(load_studies())
    graph = defs.resolve_asset_graph()
    groups = {k.path[0] for k in graph.get_all_asset_keys()}
    assert groups == {"alpha", "beta"}
    assert AssetKey(["beta", "session_published_files"]) in graph.get_all_asset_keys()
    for name in ("alpha", "beta"):
        assert defs.resolve_job_def(f"{name}_nightly")
        assert defs.resolve_sensor_def(f"{name}_source_sensor")
    alpha = defs.resolve_schedule_def("alpha_nightly_schedule")
    assert (alpha.cron_schedule, alpha.execution_timezone) == ("30 7 * * *", "Europe/Berlin")
    assert defs.resolve_schedule_def("beta_nightly_schedule").cron_schedule == "30 5 * * *"


def test_an_invalid_study_fails_definitions_validate(tmp_path):
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "good.yaml").write_text("kind: panel\n")
    (folder / "bad.yaml").write_text("kind: panel\nstabilization_days: four\n")
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "PIPELINE_STUDIES": str(folder)},
    )  # fmt: skip
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "bad.yaml" in output and "stabilization_days must be an integer" in output


def test_job_metadata_signals_and_checks(tmp_path):
    study = Study(tmp_path)
    write_export(study.drop, "e.csv", [
        response("R1", "a", "2021-06-01 10:00:00"),
        response("R2", "a", "2021-06-01 11:00:00"),  # collision
        response("R3", "b", "2021-06-01 12:00:00", S1="2"),
    ])  # fmt: skip
    (study.drop / "broken.csv").write_bytes(b"not,a,qualtrics\nexport\n")
    instance = DagsterInstance.ephemeral()
    defs = _defs(study.config)
    result = defs.resolve_job_def("config_nightly").execute_in_process(
        run_config={"resources": {"config_study": {"config": {
            "config_path": str(study.config), "as_of": "2021-06-02T12:00:00Z"}}}},
        instance=instance,
    )  # fmt: skip
    assert result.success
    meta = {
        m.asset_key.path[1]: m.metadata
        for node in ("eligible_responses", "response_ledger", "published_files")
        for m in result.asset_materializations_for_node(f"config__{node}")
    }
    assert meta["eligible_responses"]["excluded_no_age_consent"].value == 1
    assert meta["response_ledger"]["collisions"].value == 1
    assert meta["published_files"]["rows_in_files_published"].value == 1
    assert "2021-06-01 | 1 |" in meta["published_files"]["responses_per_day"].value
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["normalized_responses_valid"].passed
    assert checks["day_files_valid"].passed
    warned = checks["inputs_accepted"]
    assert not warned.passed and warned.severity == AssetCheckSeverity.WARN
    logs = instance.all_logs(result.run_id)
    assert any(
        e.level >= 30 and "quarantined" in (e.user_message or "") and "broken.csv" in e.user_message
        for e in logs
    )
    # the day partition records what was published
    day = instance.get_latest_materialization_event(AssetKey(["config", "day_file"]))
    assert day is not None and day.asset_materialization.partition == "2021-06-01"
    md = day.asset_materialization.metadata
    assert md["rows"].value == 1 and md["recorded"].value == "2021-06-02"
    sums = (study.pub / "SHA256SUMS").read_text()
    assert f"{md['sha256'].value}  {md['file'].value}" in sums


def test_sensor_requests_runs_only_for_new_files(tmp_path):
    study = Study(tmp_path)
    instance = DagsterInstance.ephemeral()
    sensor = _defs(study.config).resolve_sensor_def("config_source_sensor")
    assert isinstance(sensor(build_sensor_context(instance=instance)), SkipReason)
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    request = sensor(build_sensor_context(instance=instance))
    assert isinstance(request, RunRequest)
    again = sensor(build_sensor_context(instance=instance, cursor=request.run_key))
    assert isinstance(again, SkipReason)
    assert study.run("2021-06-02T12:00:00Z") == 0  # ingests the file
    assert isinstance(sensor(build_sensor_context(instance=instance)), SkipReason)
    (study.drop / "e.csv").write_bytes((study.drop / "e.csv").read_bytes() + b"\n")  # changed
    assert isinstance(sensor(build_sensor_context(instance=instance)), RunRequest)


def test_outage_job_adds_entry_on_top(tmp_path):
    study = Study(tmp_path)
    job = _defs(study.config).resolve_job_def("config_add_outage")
    for msg in ("first message", "second message"):
        result = job.execute_in_process(
            run_config={
                "resources": {"config_study": {"config": {"config_path": str(study.config)}}},
                "ops": {
                    "config_add_outage_entry": {
                        "config": {"kind": "DELAY", "message": msg, "days": ["2021-06-01"]}
                    }
                },
            },  # fmt: skip
            instance=DagsterInstance.ephemeral(),
        )
        assert result.success
    text = study.text("OUTAGES.txt")
    assert text.index("second message") < text.index("first message")
    assert "DELAY  for: 2021-06-01" in text
    events = result.asset_materializations_for_node("config_add_outage_entry")
    assert [m.asset_key for m in events] == [AssetKey(["config", "published_files"])]
    assert events[0].metadata["outages_entry"].value == "DELAY"


def test_outage_kind_is_checked_before_the_run_starts(tmp_path):
    """A typo in the kind is refused by Dagster's config check (the Launchpad shows it),
    not at run time."""
    study = Study(tmp_path)
    job = _defs(study.config).resolve_job_def("config_add_outage")
    with pytest.raises(DagsterInvalidConfigError, match="OUTAGE"):
        job.execute_in_process(
            run_config={
                "resources": {"config_study": {"config": {"config_path": str(study.config)}}},
                "ops": {"config_add_outage_entry": {"config": {"kind": "OUTAGE", "message": "x"}}},
            },  # fmt: skip
            instance=DagsterInstance.ephemeral(),
        )
    assert not (study.pub / "OUTAGES.txt").exists()


def test_schedule_runs_after_cutoff_on_dst_days(tmp_path):
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from pipeline.clock import last_closed_day, parse_as_of

    study = Study(tmp_path)
    schedule = _defs(study.config).resolve_schedule_def("config_nightly_schedule")
    la = ZoneInfo("America/Los_Angeles")
    for day in (date(2021, 3, 14), date(2021, 11, 7), date(2021, 7, 1)):
        when = datetime(day.year, day.month, day.day, 5, 30, tzinfo=la)
        request = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=when))
        config = request.run_requests[0].run_config["resources"]["config_study"]["config"]
        as_of = parse_as_of(config["as_of"])
        assert (as_of.astimezone(la).hour, as_of.astimezone(la).minute) == (5, 30)
        assert last_closed_day(as_of, "America/Los_Angeles") == date.fromordinal(
            day.toordinal() - 1
        )


def test_transient_transport_error_retries_the_step(tmp_path, monkeypatch):
    from assets import retries
    from pipeline.locations.sftp import SftpRetryError
    from pipeline.panel.stages import fetch

    study = Study(tmp_path)
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    calls = []
    real = fetch.fetch_exports

    def flaky(ctx, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise SftpRetryError("connection reset (simulated)")
        return real(ctx, **kwargs)

    monkeypatch.setattr(fetch, "fetch_exports", flaky)
    monkeypatch.setattr(retries, "STEP_RETRY_WAIT", 0)
    result = _run(study, "2021-06-02T12:00:00Z", step_retries=1)
    assert result.success and len(calls) == 2
    assert study.daily() == ["cvid_responses_2021_06_01_recordedby_2021_06_02.csv"]
    calls.clear()
    result = _run(study, "2021-06-03T12:00:00Z", step_retries=0)
    assert not result.success and len(calls) == 1


def nightly_job_of_env():
    """The nightly job of the study in ``PIPELINE_CONFIG`` (reconstructable in subprocesses)."""
    return build_definitions(load_studies()).resolve_job_def("config_nightly")


def test_multiprocess_nightly_and_reexecution_from_the_failed_step(tmp_path, monkeypatch):
    study = Study(tmp_path)
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    study.pub.parent.mkdir(parents=True, exist_ok=True)
    study.pub.write_text("not a folder")  # the publish step fails: the location is a file
    monkeypatch.setenv("PIPELINE_CONFIG", str(study.config))
    monkeypatch.delenv("PIPELINE_STUDIES", raising=False)
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    config = {
        "resources": {
            "config_study": {
                "config": {
                    "config_path": str(study.config),
                    "as_of": "2021-06-02T12:00:00Z",
                    "step_retries": 0,
                }
            }
        }
    }
    with DagsterInstance.get() as instance:
        job = reconstructable(nightly_job_of_env)
        with execute_job(job, instance=instance, run_config=config) as first:
            assert not first.success
            failed = {e.step_key for e in first.all_events if e.is_step_failure}
            assert failed == {"config__published_files"}
            ran = {e.step_key for e in first.all_events if e.is_step_success}
            assert "config__day_partitions.config__assemble_days" in ran, ran
        study.pub.unlink()
        options = ReexecutionOptions.from_failure(first.run_id, instance)
        with execute_job(job, instance=instance, reexecution_options=options) as second:
            assert second.success
            ran = {e.step_key for e in second.all_events if e.is_step_success}
            assert ran == {"config__published_files"}  # only the failed step ran again
    assert study.daily() == ["cvid_responses_2021_06_01_recordedby_2021_06_02.csv"]


def test_a_run_without_a_clock_uses_its_creation_time(tmp_path):
    import json

    study = Study(tmp_path, options={"max_gap_days": 100_000})
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    instance = DagsterInstance.ephemeral()
    result = _defs(study.config).resolve_job_def("config_nightly").execute_in_process(
        run_config={"resources": {"config_study": {"config": {
            "config_path": str(study.config)}}}},
        instance=instance,
    )  # fmt: skip
    assert result.success
    created = instance.get_run_record_by_id(result.run_id).create_timestamp
    [manifest] = [f for f in study.files() if f.startswith("runs/") and f.endswith(".json")]
    assert json.loads(study.text(manifest))["as_of"] == created.isoformat()


@pytest.mark.parametrize("kind", ["session"])
def test_session_study_loads_as_its_kind(tmp_path, kind):
    session = SessionStudy(tmp_path)
    defs = _defs(session.config)
    keys = {k.path[1] for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"session_raw_files", "session_responses", "session_published_files"}


def test_cli_runs_record_day_partitions_when_dagster_home_is_set(tmp_path, monkeypatch):
    study = Study(tmp_path / "study")
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert study.run("2021-06-02T12:00:00Z") == 0
    with DagsterInstance.get() as instance:
        key = AssetKey(["config", "day_file"])
        assert instance.get_materialized_partitions(key) == {"2021-06-01"}
        event = instance.get_latest_materialization_event(key)
        assert event.asset_materialization.metadata["recorded"].value == "2021-06-02"


def test_partitions_record_content_changes_not_reissues(tmp_path, monkeypatch):
    """SPEC §7: with ``reissue: all`` the second night re-issues 06-01 under its new name
    (same bytes, a link) without materializing its partition again; the new day 06-02 is
    materialized; the run counts the unchanged re-issue."""
    study = Study(tmp_path / "study", options={"reissue": "all"})
    write_export(study.drop, "e1.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert study.run("2021-06-02T12:00:00Z") == 0
    write_export(study.drop, "e2.csv", [response("R2", "b", "2021-06-02 10:00:00")])
    assert study.run("2021-06-03T12:00:00Z") == 0
    assert any("2021_06_01_recordedby_2021_06_03" in f for f in study.files())  # re-issued
    with DagsterInstance.get() as instance:
        key = AssetKey(["config", "day_file"])
        events = instance.fetch_materializations(key, limit=10).records
        by_day = sorted(
            (e.asset_materialization.partition, e.asset_materialization.metadata["recorded"].value)
            for e in events
        )
        assert by_day == [("2021-06-01", "2021-06-02"), ("2021-06-02", "2021-06-03")]
        published = instance.get_latest_materialization_event(
            AssetKey(["config", "published_files"])
        )
        assert published.asset_materialization.metadata["days_reissued_unchanged"].value == 1


def test_every_asset_carries_owners_kinds_tags_and_a_code_version(tmp_path):
    from pipeline.provenance import code_version

    study = Study(tmp_path, options={"owners": ["data-team@example.org"]})
    graph = _defs(study.config).resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    assert len(keys) == 8
    for key in keys:
        node = graph.get(key)
        assert node.owners == ["data-team@example.org"], key
        assert node.kinds, key
        assert node.tags["study"] == "config" and node.tags["study_kind"] == "panel", key
        assert node.code_version == code_version(), key


def test_published_files_have_a_freshness_check_after_the_schedule(tmp_path):
    """The check fails while the nightly run has not updated the study's published files in
    the 24 hours before its deadline (cut-off + 90 min + the margin), and passes after it."""
    from dagster import AssetSelection, Definitions, define_asset_job

    from assets.definitions import freshness_checks

    study = Study(tmp_path)
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    defs = _defs(study.config)
    checks = freshness_checks(load_study(study.config))
    [spec] = [s for c in checks for s in c.check_specs]
    assert spec.asset_key == AssetKey(["config", "published_files"])
    assert "config_freshness_sensor" in {s.name for s in defs.sensors}
    job = Definitions(
        asset_checks=checks,
        jobs=[define_asset_job("fresh", selection=AssetSelection.checks(*checks))],
    ).resolve_job_def("fresh")
    instance = DagsterInstance.ephemeral()

    def fresh() -> bool:
        result = job.execute_in_process(instance=instance)
        [evaluation] = result.get_asset_check_evaluations()
        return evaluation.passed

    assert not fresh()  # never published
    nightly = defs.resolve_job_def("config_nightly")
    assert nightly.execute_in_process(
        run_config={"resources": {"config_study": {"config": {
            "config_path": str(study.config), "as_of": "2021-06-02T12:00:00Z"}}}},
        instance=instance,
    ).success  # fmt: skip
    assert fresh()


def test_routine_late_rows_do_not_warn_and_an_empty_day_does(tmp_path):
    """publication_complete warns on what an operator must act on: one late row among
    twenty is routine. A day first published with no row gets its own WARN check."""
    from assets.panel import WITHHELD_WARN_SHARE

    study = Study(tmp_path)
    rows = [response(f"R{i}", f"t{i}", f"2021-06-01 10:{i:02d}:00") for i in range(20)]
    # recorded after its day's cut-off (04:00 next morning): withheld (not on time)
    rows.append(response("L1", "late", "2021-06-01 23:00:00", "2021-06-02 09:00:00"))
    write_export(study.drop, "e.csv", rows)
    result = _defs(study.config).resolve_job_def("config_nightly").execute_in_process(
        run_config={"resources": {"config_study": {"config": {
            "config_path": str(study.config), "as_of": "2021-06-03T12:00:00Z"}}}},
        instance=DagsterInstance.ephemeral(),
    )  # fmt: skip
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    complete = checks["publication_complete"]
    assert complete.passed and 1 / 21 < WITHHELD_WARN_SHARE
    empty = checks["no_empty_days"]
    assert not empty.passed and empty.severity == AssetCheckSeverity.WARN
    assert empty.metadata["empty_days"].value == "2021-06-02"
