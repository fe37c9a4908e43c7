"""The README's UI operations, performed as the UI sends them: GraphQL mutations against a
real `dagster dev` (webserver and daemon) on a fresh instance with deploy/dagster.yaml.

A nightly run launched with no config (its clock: now), an OUTAGES entry from the
launchpad, a backfill of a day range from the day_file asset, a typo refused before launch,
and a failed run whose failure reads as one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.exports import response, write_export
from tests.study import Study

ROOT = Path(__file__).resolve().parent.parent
LOCATION = {"repositoryLocationName": "survey_pipeline", "repositoryName": "__repository__"}
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on PythonError { message } } }"""
RUN = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""
FAILURE = """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
  __typename ... on MessageEvent { message }
  ... on ExecutionStepFailureEvent { stepKey error { message } } } } } }"""
BACKFILL = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
RELOAD = """mutation { reloadRepositoryLocation(repositoryLocationName: "survey_pipeline") {
  __typename } }"""
BACKFILL_STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status error { message } } } }"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UI:
    """A running `dagster dev`, spoken to as the UI does."""

    def __init__(self, port: int) -> None:
        self.port = port

    def query(self, query: str, **variables: object) -> dict:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                out = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # GraphQL errors come back as HTTP 500
            raise AssertionError(exc.read().decode()[:2000]) from None
        assert "errors" not in out, out
        return out["data"]

    def launch(self, job: str, config: dict | None = None) -> dict:
        params = {"selector": {**LOCATION, "jobName": job}, "runConfigData": config or {}}
        return self.query(LAUNCH, p=params)["launchRun"]

    def wait(self, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.query(RUN, id=run_id)["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(2)
        raise AssertionError(f"run {run_id} did not finish in {timeout} s")


@pytest.fixture
def ui(tmp_path) -> tuple[UI, Study]:
    la = datetime.now(ZoneInfo("America/Los_Angeles"))
    study = Study(tmp_path / "study")
    days = [(la - timedelta(days=n)).date() for n in (4, 3)]
    write_export(study.drop, "export.csv", [
        response(f"R{i}", f"tok{i}", f"{d} 10:00:00") for i, d in enumerate(days)
    ])  # fmt: skip
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "PIPELINE_CONFIG": str(study.config)}
    env.pop("PIPELINE_STUDIES", None)
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    client = UI(port)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if client.query("{ assetNodes { id } }")["assetNodes"]:
                    break
            except (OSError, AssertionError, KeyError):
                pass
            assert proc.poll() is None, "dagster dev exited"
            time.sleep(2)
        else:
            raise AssertionError("dagster dev did not come up")
        yield client, study, days
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=60)


BACKFILL_RUNS = """query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill",
  value: $id}]}) { ... on Runs { results { runId status } } } }"""


def _backfill_errors(client: UI, backfill_id: str) -> list:
    runs = client.query(BACKFILL_RUNS, id=backfill_id)["runsOrError"]["results"]
    out = []
    for run in runs:
        events = client.query(FAILURE, id=run["runId"])["logsForRun"]["events"]
        out += [
            run,
            *[
                e
                for e in events
                if "Failure" in e["__typename"] or "Error" in str(e.get("message"))
            ],
        ]
    return out


def test_readme_ui_operations(ui):
    client, study, days = ui
    # the nightly run from its launchpad, no config: its clock is now
    launched = client.launch("config_nightly")
    assert launched["__typename"] == "LaunchRunSuccess", launched
    assert client.wait(launched["run"]["runId"]) == "SUCCESS"
    stamp = datetime.now(ZoneInfo("America/Los_Angeles")).date().strftime("%Y_%m_%d")
    assert any(f"recordedby_{stamp}" in f for f in study.daily())

    # an OUTAGES entry from the launchpad; a typo in its kind is refused before launch
    config = {
        "ops": {
            "config_add_outage_entry": {
                "config": {
                    "kind": "DELAY",
                    "message": "Wave 12 exports are late.",
                    "days": [str(days[0])],
                }
            }
        }
    }
    launched = client.launch("config_add_outage", config)
    assert client.wait(launched["run"]["runId"]) == "SUCCESS"
    assert "Wave 12 exports are late." in study.text("OUTAGES.txt")
    config["ops"]["config_add_outage_entry"]["config"]["kind"] = "OUTAGE"
    refused = client.launch("config_add_outage", config)
    assert refused["__typename"] == "RunConfigValidationInvalid"
    assert "OUTAGE" in json.dumps(refused["errors"])

    # a new study's partitions begin at its first published day: reload the code location
    # (Deployment → Reload) once its first night has run
    reloaded = client.query(RELOAD)["reloadRepositoryLocation"]
    assert reloaded["__typename"] == "WorkspaceLocationEntry", reloaded
    # a backfill of the day range from the day_file asset (Materialize, Launch backfill)
    backfill = client.query(BACKFILL, p={
        "assetSelection": [{"path": ["config", "day_file"]}],
        "partitionNames": [str(d) for d in days], "fromFailure": False,
    })["launchPartitionBackfill"]  # fmt: skip
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    deadline = time.monotonic() + 300
    status = ""
    while time.monotonic() < deadline and status not in ("COMPLETED", "COMPLETED_SUCCESS"):
        status = client.query(BACKFILL_STATUS, id=backfill["backfillId"])[
            "partitionBackfillOrError"
        ]["status"]
        assert status not in ("FAILED", "CANCELED", "COMPLETED_FAILED"), (
            client.query(BACKFILL_STATUS, id=backfill["backfillId"]),
            _backfill_errors(client, backfill["backfillId"]),
        )
        time.sleep(3)
    assert status in ("COMPLETED", "COMPLETED_SUCCESS")

    # reading a failure: the publish location is a file; the failed step says so in one line
    study.pub.rename(study.pub.with_name("published"))
    study.pub.write_text("not a folder")
    write_export(study.drop, "later.csv", [response("L1", "later", f"{days[1]} 11:00:00")])
    launched = client.launch("config_nightly")
    assert client.wait(launched["run"]["runId"]) == "FAILURE"
    events = client.query(FAILURE, id=launched["run"]["runId"])["logsForRun"]["events"]
    failures = [e for e in events if e["__typename"] == "ExecutionStepFailureEvent"]
    assert failures and failures[0]["stepKey"] == "config__published_files"
    assert "tok" not in json.dumps(failures)
