"""The Dagster code location: definitions load, the job runs, the sensor and the outage job."""

from __future__ import annotations

from dagster import DagsterInstance, RunRequest, SkipReason, build_sensor_context

from pipeline import definitions
from tests.exports import response, write_export
from tests.study import Study


def test_definitions_load_with_every_stage():
    defs = definitions.defs
    job = defs.resolve_job_def("nightly")
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {
        "raw_exports", "normalized_responses", "eligible_responses", "response_ledger",
        "lag_policy", "day_partitions", "published_files", "day_file_content", "day_file",
    }  # fmt: skip
    assert job is not None
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "30 5 * * *"
    assert schedule.execution_timezone == "America/Los_Angeles"


def test_job_metadata_reports_counts(tmp_path):
    study = Study(tmp_path)
    write_export(study.drop, "e.csv", [
        response("R1", "a", "2021-06-01 10:00:00"),
        response("R2", "a", "2021-06-01 11:00:00"),  # collision
        response("R3", "b", "2021-06-01 12:00:00", S1="2"),
    ])  # fmt: skip
    result = definitions.defs.resolve_job_def("nightly").execute_in_process(
        run_config={"resources": {"study": {"config": {
            "config_path": str(study.config), "as_of": "2021-06-02T12:00:00Z"}}}},
        instance=DagsterInstance.ephemeral(),
    )  # fmt: skip
    assert result.success
    meta = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("eligible_responses")
        + result.asset_materializations_for_node("response_ledger")
        + result.asset_materializations_for_node("published_files")
    }
    assert meta["eligible_responses"]["excluded_no_age_consent"].value == 1
    assert meta["response_ledger"]["collisions"].value == 1
    assert meta["published_files"]["rows_published"].value == 1
    assert "2021-06-01 | 1 |" in meta["published_files"]["responses_per_day"].value


def test_sensor_requests_runs_only_for_new_files(tmp_path, monkeypatch):
    study = Study(tmp_path)
    monkeypatch.setenv("PIPELINE_CONFIG", str(study.config))
    instance = DagsterInstance.ephemeral()
    sensor = definitions.defs.resolve_sensor_def("source_drop_sensor")
    assert isinstance(sensor(build_sensor_context(instance=instance)), SkipReason)
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    request = sensor(build_sensor_context(instance=instance))
    assert isinstance(request, RunRequest)
    # same files, cursor already at them: no second request
    again = sensor(build_sensor_context(instance=instance, cursor=request.run_key))
    assert isinstance(again, SkipReason)
    assert study.run("2021-06-02T12:00:00Z") == 0  # ingests the file
    assert isinstance(sensor(build_sensor_context(instance=instance)), SkipReason)
    (study.drop / "e.csv").write_bytes((study.drop / "e.csv").read_bytes() + b"\n")  # changed
    assert isinstance(sensor(build_sensor_context(instance=instance)), RunRequest)


def test_outage_job_adds_entry_on_top(tmp_path):
    study = Study(tmp_path)
    job = definitions.defs.resolve_job_def("add_outage_job")
    for msg in ("first message", "second message"):
        result = job.execute_in_process(
            run_config={
                "resources": {"study": {"config": {"config_path": str(study.config)}}},
                "ops": {
                    "add_outage_entry": {
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


def test_schedule_runs_after_cutoff_on_dst_days():
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from dagster import build_schedule_context

    from pipeline.days import last_closed_day
    from resources.study import parse_as_of

    la = ZoneInfo("America/Los_Angeles")
    for day in (date(2021, 3, 14), date(2021, 11, 7), date(2021, 7, 1)):
        when = datetime(day.year, day.month, day.day, 5, 30, tzinfo=la)
        ctx = build_schedule_context(scheduled_execution_time=when)
        request = (
            definitions.defs.resolve_schedule_def("nightly_schedule")
            .evaluate_tick(ctx)
            .run_requests[0]
        )
        as_of = parse_as_of(request.run_config["resources"]["study"]["config"]["as_of"])
        local = as_of.astimezone(la)
        assert (local.hour, local.minute) == (5, 30)
        # after the 04:00 cut-off: yesterday is published, on DST days too
        assert last_closed_day(as_of, "America/Los_Angeles") == date.fromordinal(
            day.toordinal() - 1
        )


def test_transient_transport_error_retries_the_step(tmp_path, monkeypatch):
    from assets import panel, retries
    from pipeline.locations.sftp import SftpRetryError
    from pipeline.panel import stages

    study = Study(tmp_path)
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 10:00:00")])
    calls = []
    real = stages.fetch_exports

    def flaky(ctx, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise SftpRetryError("connection reset (simulated)")
        return real(ctx, **kwargs)

    monkeypatch.setattr(panel.stages, "fetch_exports", flaky)
    monkeypatch.setattr(retries, "STEP_RETRY_WAIT", 0)
    result = definitions.defs.resolve_job_def("nightly").execute_in_process(
        run_config={"resources": {"study": {"config": {
            "config_path": str(study.config), "as_of": "2021-06-02T12:00:00Z",
            "step_retries": 1}}}},
        instance=DagsterInstance.ephemeral(),
    )  # fmt: skip
    assert result.success and len(calls) == 2
    assert study.daily() == ["cvid_responses_2021_06_01_recordedby_2021_06_02.csv"]
    # with no step retries the same error fails the run at once
    calls.clear()
    result = definitions.defs.resolve_job_def("nightly").execute_in_process(
        run_config={"resources": {"study": {"config": {
            "config_path": str(study.config), "as_of": "2021-06-03T12:00:00Z",
            "step_retries": 0}}}},
        instance=DagsterInstance.ephemeral(), raise_on_error=False,
    )  # fmt: skip
    assert not result.success and len(calls) == 1
