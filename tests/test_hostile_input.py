"""Hostile and odd input end to end (SPEC §6): nothing leaked, odd files never stop a night.

Runs go through ``python -m pipeline run`` in a child process, so a hang (a FIFO in the
drop) fails the test by its timeout instead of hanging it, and everything the run logs
(stderr at DEBUG, the Dagster instance's event log) can be scanned.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pipeline.cli import EXIT_RUN_IN_PROGRESS, main
from pipeline.state.store import StateStore
from tests.exports import BASE_COLUMNS, export_bytes, response, write_export
from tests.study import Study

ROOT = Path(__file__).resolve().parents[1]
CLOCK = "2021-06-02T12:00:00Z"
DAY = "cvid_responses_2021_06_01_recordedby_2021_06_02.csv"

# Planted respondent data: a real export's rows start with StartDate, EndDate, Status,
# IPAddress, ..., RecordedDate, ResponseId -- what parser messages used to quote.
IP, RID, TOKEN = "198.51.100.23", "R_3HostilePlanted", "tok-PLANTED-c0ffee"
SECRETS = (IP.encode(), RID.encode(), TOKEN.encode())
COLUMNS = [*BASE_COLUMNS[:3], "IPAddress", *BASE_COLUMNS[3:]]


def _cli(study: Study, *args: str, env: dict[str, str] | None = None, timeout: float = 180):
    """``python -m pipeline run`` for ``study`` in a child process."""
    cmd = [sys.executable, "-m", "pipeline", "run", "--config", str(study.config), *args]
    full_env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    full_env.update(env or {})
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env
    )


def _good_rows() -> list[dict[str, str]]:
    return [
        response("K1", "ok1", "2021-06-01 09:00:00", IPAddress="192.0.2.1"),
        response("K2", "ok2", "2021-06-01 10:00:00", IPAddress="192.0.2.2"),
    ]


def _planted(**answers: str) -> dict[str, str]:
    return response(RID, TOKEN, "2021-06-01 11:00:00", IPAddress=IP, **answers)


def _hostile_drop(study: Study, weights: Path) -> list[str]:
    """A good export and one file for every way an export can be malformed, each carrying
    the planted IP address, ResponseId and token; returns the malformed files' names."""
    good = export_bytes(_good_rows(), columns=COLUMNS)
    planted = export_bytes([_planted()], columns=COLUMNS)
    row = planted.splitlines(keepends=True)[-1]
    (study.drop / "good.csv").write_bytes(good)
    bad = {
        "ragged.csv": good + row.rstrip(b"\n") + b",one,two\n",
        "truncated.csv": good + row[: row.index(RID.encode()) + len(RID)],
        "quote.csv": good + row.replace(TOKEN.encode(), b'"' + TOKEN.encode()),
        "badtime.csv": export_bytes([_planted(StartDate=IP)], columns=COLUMNS),
        "nul.csv": good + row.replace(TOKEN.encode(), TOKEN.encode() + b"\x00"),
        "undecodable.csv": good + row.replace(IP.encode(), IP.encode() + b"\xff"),
        "huge.csv": export_bytes([_planted(B2_14_TEXT=f"{TOKEN} " * 5000)], columns=COLUMNS),
        "cut.csv.gz": gzip.compress(good + row * 300)[:-400],
    }
    for name, data in bad.items():
        (study.drop / name).write_bytes(data)
    (weights / "x_finish_full_survey_weights.csv").write_text(f"cid,weight\nok1,1\n{TOKEN},{IP}\n")
    (weights / "y_finish_full_survey_weights.csv").write_text(
        f'cid,weight\nok2,"2\n{TOKEN},{RID}\n'
    )
    (weights / "z_finish_full_survey_weights.csv").write_text("cid,weight\nok1,1\nok2,2\n")
    return sorted(bad)


def test_nothing_published_or_logged_quotes_respondents_data(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    study = Study(tmp_path, options={"weights": str(weights)})
    malformed = _hostile_drop(study, weights)
    home = tmp_path / "dagster_home"
    home.mkdir()
    proc = _cli(
        study, "--as-of", CLOCK, env={"DAGSTER_HOME": str(home), "PIPELINE_LOG_LEVEL": "DEBUG"}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    # every malformed file was quarantined with a message naming it and a line ...
    quarantine = tmp_path / "archive" / "quarantine"
    errors = {p.name: p.read_text() for p in quarantine.glob("*.error.txt")}
    assert len(errors) == len(malformed) + 2  # and both weights files
    outages = study.text("OUTAGES.txt")
    for name in [
        *malformed,
        "x_finish_full_survey_weights.csv",
        "y_finish_full_survey_weights.csv",
    ]:
        assert f"Input file {name} was quarantined and not used: {name}, line " in outages, name
    # ... its raw bytes stay in the archive, as received
    kept = [p for p in quarantine.iterdir() if not p.name.endswith(".error.txt")]
    assert {p.read_bytes() for p in kept} >= {(study.drop / n).read_bytes() for n in malformed}
    # the good export went through
    assert "09:00:00" in study.text(DAY) and "10:00:00" in study.text(DAY)

    # nothing published or logged quotes the planted values
    scanned: dict[str, bytes] = {"stdout": proc.stdout.encode(), "stderr": proc.stderr.encode()}
    for folder in (study.pub, study.cids, home):
        for path in folder.rglob("*"):
            if path.is_file():
                scanned[str(path)] = path.read_bytes()
    for path in quarantine.glob("*.error.txt"):
        scanned[str(path)] = path.read_bytes()
    # the scan sees what it must: Dagster's event log (with the quarantine errors in its
    # metadata) and the run's DEBUG log
    assert any(str(home) in n and b"ragged.csv, line" in d for n, d in scanned.items())
    assert "RUN_SUCCESS" in proc.stderr
    for name, data in scanned.items():
        for secret in SECRETS:
            assert secret not in data, f"{secret!r} leaked into {name}"


def test_links_fifos_and_odd_names_in_a_local_drop_are_skipped(tmp_path):
    study = Study(tmp_path)
    write_export(study.drop, "good.csv", _good_rows(), columns=COLUMNS)
    outside = tmp_path / "outside"
    secret = write_export(outside, "secret.csv", [_planted(UserLanguage="XX")], columns=COLUMNS)
    (study.drop / "evil.csv").symlink_to(secret)  # leads outside the drop
    (study.drop / "linked").symlink_to(outside, target_is_directory=True)
    (study.drop / "dangling.csv").symlink_to(study.drop / "removed.csv")
    (study.drop / "x\\..\\secret.csv").write_bytes(secret.read_bytes())  # a backslash name
    os.mkfifo(study.drop / "pipe.csv")  # no writer ever comes: reading it would hang forever

    started = time.monotonic()
    proc = _cli(study, "--as-of", CLOCK, env={"PIPELINE_LOG_LEVEL": "WARNING"}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert time.monotonic() - started < 120
    for name in ("evil.csv", "linked", "dangling.csv", "pipe.csv", "x\\\\..\\\\secret.csv"):
        assert f"skipping '{name}'" in proc.stderr, name  # each with a warning
    manifest = json.loads(next((study.pub / "runs").glob("*.json")).read_text())
    assert [i["path"] for i in manifest["inputs"]] == ["good.csv"]
    assert ",XX," not in study.text(DAY) and "09:00:00" in study.text(DAY)
    sha = hashlib.sha256(secret.read_bytes()).hexdigest()
    assert not (tmp_path / "archive" / sha[:2] / sha).exists()  # never read, never archived


def test_header_only_export_is_valid_and_adds_nothing(tmp_path):
    study = Study(tmp_path)
    write_export(study.drop, "good.csv", _good_rows())
    write_export(study.drop, "nothing-yet.csv", [], columns=[*BASE_COLUMNS, "NEWQ"])
    assert study.run(CLOCK) == 0
    assert "  NOTICE  " not in study.text("OUTAGES.txt")
    assert not (tmp_path / "archive" / "quarantine").exists()
    manifest = json.loads(next((study.pub / "runs").glob("*.json")).read_text())
    assert {i["path"]: i["status"] for i in manifest["inputs"]} == {
        "good.csv": "applied", "nothing-yet.csv": "applied",
    }  # fmt: skip
    header = study.text(DAY).splitlines()[0]
    assert "NEWQ" not in header  # a wave with no response yet changes no day's header
    assert len(study.text(DAY).splitlines()) == 3


def test_a_source_that_cannot_be_listed_fails_before_anything_is_published(tmp_path, capsys):
    study = Study(tmp_path)
    write_export(study.drop, "good.csv", _good_rows())
    assert not study.pub.exists()  # a first run creates the publish folder ...
    unmounted = tmp_path / "mnt" / "drop"
    assert study.run(CLOCK, "--source", str(unmounted)) == 1
    err = capsys.readouterr().err
    assert (
        err
        == f"error: LocationUnavailable: {unmounted}: cannot list the location: no such folder\n"
    )
    assert not study.pub.exists()  # ... but not when the source is missing
    weights = tmp_path / "weights-not-there"
    study_w = Study(tmp_path / "w", options={"weights": str(weights)})
    write_export(study_w.drop, "good.csv", _good_rows())
    assert study_w.run(CLOCK) == 1
    assert f"error: LocationUnavailable: {weights}: cannot list" in capsys.readouterr().err
    assert not study_w.pub.exists()

    assert study.run(CLOCK) == 0  # the drop is back
    assert study.daily() == [DAY]
    # `latest` reads a publish folder: a missing one is an error, not an empty table
    assert main(["latest", str(tmp_path / "no-such-publish")]) == 1
    assert "error: LocationUnavailable:" in capsys.readouterr().err
    assert main(["latest", str(study.pub), "--out", str(tmp_path / "latest.csv")]) == 0


def test_a_concurrent_run_is_refused_at_once_with_its_own_exit_code(tmp_path):
    study = Study(tmp_path)
    write_export(study.drop, "good.csv", _good_rows())
    home = tmp_path / "dagster_home"
    home.mkdir()
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with store.run_lock():
            started = time.monotonic()
            proc = _cli(study, "--as-of", CLOCK, env={"DAGSTER_HOME": str(home)})
            elapsed = time.monotonic() - started
    finally:
        store.dispose()
    assert proc.returncode == EXIT_RUN_IN_PROGRESS == 75
    assert proc.stderr.startswith("error: RunInProgressError: another run is in progress")
    assert proc.stderr.count("\n") == 1
    assert elapsed < 1.0, elapsed  # refused before Dagster starts (process start included)
    assert list(home.iterdir()) == []  # no Dagster run was even created
    assert not study.pub.exists()
    assert _cli(study, "--as-of", CLOCK).returncode == 0  # free again
