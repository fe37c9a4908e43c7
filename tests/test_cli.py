"""The command line's contract (SPEC §8): exit codes and one-line errors that name the flag,
the key or the location; configuration errors before Dagster is imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.cli import main
from tests.exports import response, write_export
from tests.study import Study


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """``python -m pipeline ...`` in a fresh process; reports whether Dagster was imported."""
    code = (
        "import sys, json; from pipeline.cli import main; rc = main(sys.argv[1:]); "
        "print(json.dumps({'rc': rc, 'dagster': 'dagster' in sys.modules}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["run", "--config", "x.yaml", "--as-of", "yesterday"], "--as-of"),
        (["run", "--config", "x.yaml", "--as-of", "2021-13-01T00:00:00Z"], "--as-of"),
        (["backfill", "--config", "x.yaml", "--from", "2021-06-01", "--to", "June"], "--to"),
        (
            [
                "outage",
                "add",
                "--config",
                "x.yaml",
                "--kind",
                "NOTICE",
                "--message",
                "m",
                "--days",
                "2021-06-01,2021-02-30",
            ],
            "--days",
        ),  # fmt: skip
        (
            [
                "synth",
                "--kind",
                "panel",
                "--out",
                "o",
                "--start",
                "x",
                "--days",
                "1",
                "--per-day",
                "1",
            ],
            "--start",
        ),  # fmt: skip
    ],
)
def test_bad_flags_are_usage_errors_naming_the_flag(args, flag, capsys):
    with pytest.raises(SystemExit) as ended:
        main(args)
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and err.startswith("error: usage:")


def test_config_errors_come_before_dagster(tmp_path):
    bad = tmp_path / "study.yaml"
    bad.write_text("kind: panel\nstabilization_days: four\n")
    done = _cli("run", "--config", str(bad))
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"rc": 2, "dagster": False}
    assert done.stderr.strip().count("\n") == 0
    assert "stabilization_days must be an integer" in done.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    done = _cli("run", "--config", str(empty))
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"rc": 2, "dagster": False}
    assert "empty" in done.stderr


def test_gap_refusal_publishes_nothing_and_says_how_to_override(tmp_path, capsys):
    study = Study(tmp_path)
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 09:00:00")])
    assert study.run("2021-06-02T12:00:00Z") == 0
    published = {p: (study.pub / p).read_bytes() for p in study.files()}
    capsys.readouterr()
    assert study.run("2024-01-01T12:00:00Z") == 1  # years past the data: refused
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "max_gap_days" in err and "--as-of" in err
    assert {p: (study.pub / p).read_bytes() for p in study.files()} == published
    # within the limit: the empty days are published with DELAY entries
    assert study.run("2021-06-09T12:00:00Z") == 0
    assert "cvid_responses_2021_06_08_recordedby_2021_06_09.csv" in study.daily()
    # the setting overrides
    study.configure(max_gap_days=1000)
    assert study.run("2024-01-01T12:00:00Z") == 0


def test_latest_on_an_empty_location_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["latest", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no published daily files" in err
