"""The operators hear of failures (SPEC §7 "Watched"): one run-failure sensor for the code
location sends every failed run of any study (a failed blocking check fails its run) on the
channels :mod:`pipeline.alerts` reads from the environment. Running by default: it needs the
daemon, and it sends nothing until a channel is configured."""

from dagster import (
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorDefinition,
    SkipReason,
    run_failure_sensor,
)

from pipeline.alerts import Alert, Channels, notify


def failure_alert(context: RunFailureSensorContext) -> Alert:
    """The alert for a failed run: its job, and each failed step's one-line error."""
    run = context.dagster_run
    lines = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        message = error.message.strip().splitlines()[0] if error and error.message else ""
        lines.append(f"step {event.step_key}: {message}")
    text = "\n".join(lines) or (context.failure_event.message or "the run failed")
    study = run.tags.get("study") or run.job_name.rsplit("_", 1)[0]
    return Alert(
        subject=f"[survey pipeline] {run.job_name} failed (run {run.run_id[:8]})",
        text=text, study=study, run_id=run.run_id,
    )  # fmt: skip


@run_failure_sensor(
    name="pipeline_run_failure_alert",
    default_status=DefaultSensorStatus.RUNNING,
    description="Sends each failed run (e-mail over SMTP and/or a webhook; see README).",
)
def run_failure_alert(context: RunFailureSensorContext) -> SkipReason | None:
    channels = Channels.from_env()
    if not channels.configured:
        return SkipReason("no alert channel configured (PIPELINE_ALERT_*)")
    sent = notify(failure_alert(context), channels)
    context.log.info(f"failure of run {context.dagster_run.run_id} sent by {', '.join(sent)}")
    return None


ALERT_SENSORS: list[SensorDefinition] = [run_failure_alert]
