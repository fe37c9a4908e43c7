"""Smoke test: the Dagster webserver loads workspace.yaml and serves the asset graph."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.study import Study


def study_name(study: Study) -> str:
    """A study's name in the code location: its configuration file's stem."""
    return study.config.stem


ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_webserver_serves_asset_graph(tmp_path):
    study = Study(tmp_path / "study")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "PIPELINE_CONFIG": str(study.config)}
    webserver = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        nodes = None
        while time.monotonic() < deadline:
            try:
                data = _graphql(
                    port, "{ assetNodes { assetKey { path } dependencyKeys { path } } }"
                )
                nodes = data["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(1)
        assert nodes, "webserver did not serve the asset graph in time"
        keys = {tuple(n["assetKey"]["path"]): n for n in nodes}
        study = study_name(study)
        assert {(study, s) for s in ("raw_exports", "published_files", "day_file")} <= set(keys)
        deps = {tuple(d["path"]) for d in keys[(study, "published_files")]["dependencyKeys"]}
        assert (study, "day_partitions") in deps
        # one code location name everywhere: workspace.yaml's is pyproject.toml's
        locations = _graphql(
            port, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
        )["data"]["workspaceOrError"]["locationEntries"]
        assert [e["name"] for e in locations] == ["survey_pipeline"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
