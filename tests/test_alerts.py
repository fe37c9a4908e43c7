"""Failure alerts (SPEC §7 "Watched"): a failed run of a study reaches a real local SMTP
server (aiosmtpd) and a real local HTTP server, through the run-failure sensor as the
daemon evaluates it. The message names the job and the failed step, never respondents'
data."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from dagster import DagsterInstance, SkipReason, build_run_status_sensor_context

from assets.alerts import run_failure_alert
from assets.definitions import build_definitions
from assets.study import load_study
from pipeline.alerts import Alert, Channels, notify
from tests.exports import response, write_export
from tests.study import Study


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd API
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def _failed_run(tmp_path):
    """A real nightly run of a study that fails in its publish step."""
    study = Study(tmp_path)
    write_export(study.drop, "e.csv", [response("R1", "tok-secret-1", "2021-06-01 10:00:00")])
    study.pub.parent.mkdir(parents=True, exist_ok=True)
    study.pub.write_text("not a folder")  # the publish location is a file
    defs = build_definitions([load_study(study.config)])
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("config_nightly").execute_in_process(
        run_config={"resources": {"config_study": {"config": {
            "config_path": str(study.config), "as_of": "2021-06-02T12:00:00Z",
            "step_retries": 0}}}},
        instance=instance, raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    [failure] = [e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE"]
    return instance, run, failure


def test_a_failed_run_is_sent_by_email_and_webhook(
    tmp_path, monkeypatch, smtp_server, webhook_server
):
    port, inbox = smtp_server
    url, received = webhook_server
    monkeypatch.setenv("PIPELINE_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PIPELINE_ALERT_SMTP_PORT", str(port))
    monkeypatch.setenv("PIPELINE_ALERT_EMAIL_TO", "ops@example.org, oncall@example.org")
    monkeypatch.setenv("PIPELINE_ALERT_WEBHOOK_URL", url)
    instance, run, failure = _failed_run(tmp_path)
    context = build_run_status_sensor_context(
        sensor_name="pipeline_run_failure_alert", dagster_instance=instance,
        dagster_run=run, dagster_event=failure,
    ).for_run_failure()  # fmt: skip
    assert run_failure_alert(context) is None
    [mail] = inbox.messages
    text = mail.decode()
    assert "config_nightly failed" in text and "ops@example.org" in text
    assert "step config__published_files" in text
    [hook] = received
    assert hook["run_id"] == run.run_id and hook["study"] == "config"
    assert "config__published_files" in hook["text"]
    for sent in (text, json.dumps(hook)):
        assert "tok-secret-1" not in sent and "R1" not in sent.split("run_id")[0]


def test_no_channel_sends_nothing(tmp_path, monkeypatch):
    for name in ("PIPELINE_ALERT_SMTP_HOST", "PIPELINE_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    instance, run, failure = _failed_run(tmp_path)
    context = build_run_status_sensor_context(
        sensor_name="pipeline_run_failure_alert", dagster_instance=instance,
        dagster_run=run, dagster_event=failure,
    ).for_run_failure()  # fmt: skip
    assert isinstance(run_failure_alert(context), SkipReason)


def test_notify_retries_a_refused_connection_then_fails(monkeypatch):
    port = _free_port()  # nothing listens there
    channels = Channels(smtp_host="127.0.0.1", smtp_port=port, email_to=("ops@example.org",))
    monkeypatch.setattr("tenacity.nap.time.sleep", lambda _s: None)
    with pytest.raises(OSError):
        notify(Alert(subject="s", text="t"), channels)
