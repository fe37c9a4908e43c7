"""Several nights end to end through the Dagster job: swaps, late records, corrections,
duplicates, quarantine and idempotence (SPEC §3.4-3.6, §6)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from pipeline.panel.latest import load_latest
from pipeline.state.store import StateStore
from tests.exports import response, write_export
from tests.study import Study

DAY1 = "cvid_responses_2021_06_01_recordedby_{}.csv"


def night1(study: Study) -> None:
    write_export(study.drop, "export_2021_06_02.csv", [
        response("F1", "fw", "2021-06-01 11:00:00", "2021-06-01 11:30:00", A1_1="3"),  # friend
        response("K1", "ok1", "2021-06-01 09:00:00", "2021-06-01 09:20:00"),
    ])  # fmt: skip


def night2(study: Study) -> None:
    write_export(study.drop, "export_2021_06_03.csv", [
        # the original respondent started first but was recorded the next afternoon
        response("O1", "fw", "2021-06-01 10:00:00", "2021-06-02 14:00:00", A1_1="1",
                 Finished="0"),
        # started 06-01, recorded after the 04:00 cut-off: never weight-eligible
        response("L1", "late", "2021-06-01 20:00:00", "2021-06-02 06:00:00"),
        response("K2", "ok2", "2021-06-02 09:00:00", "2021-06-02 09:10:00"),
    ])  # fmt: skip
    # the same bytes delivered again under another name
    shutil.copy(study.drop / "export_2021_06_02.csv", study.drop / "export_again.csv")


def night3(study: Study) -> None:
    write_export(study.drop, "export_2021_06_10.csv", [
        # ok1's link was answered earlier by someone recorded a week later: a correction
        response("K0", "ok1", "2021-06-01 08:00:00", "2021-06-09 08:00:00", A1_1="5", UserLanguage="FR"),
    ])  # fmt: skip


def test_three_nights(tmp_path, state_url):
    study = Study(tmp_path, state=state_url, options={"reissue": "all"})
    night1(study)
    assert study.run("2021-06-02T12:00:00Z") == 0  # 05:00 PDT 06-02
    assert study.daily() == [DAY1.format("2021_06_02")]
    n1 = study.text(DAY1.format("2021_06_02"))
    assert n1.count("\n") == 3 and "11:00:00,3," in n1  # F1 (A1_1=3) is the published winner
    assert (study.cids / "cvid_cids_full_response_00_00_2021_06_01_-_23_59_2021_06_01.csv"
            ).read_text() == "fw\nok1\n"  # fmt: skip

    night2(study)
    assert study.run("2021-06-03T12:00:00Z") == 0
    assert study.daily() == [
        DAY1.format("2021_06_02"),
        DAY1.format("2021_06_03"),
        "cvid_responses_2021_06_02_recordedby_2021_06_03.csv",
    ]
    n2 = study.text(DAY1.format("2021_06_03"))
    lines = n2.splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("2021-06-01 09:00:00")  # ok1
    assert lines[2].startswith("2021-06-01 10:00:00")  # O1 replaced F1 (swap)
    assert "2021-06-01 11:00:00" not in n2 and "2021-06-01 20:00:00" not in n2
    assert study.text(DAY1.format("2021_06_02")) == n1  # older versions stay untouched
    manifest = json.loads(
        study.text(
            sorted(f for f in study.files() if f.startswith("runs/") and f.endswith(".json"))[-1]
        )
    )
    assert manifest["swaps"] == 1
    statuses = {i["path"]: i["status"] for i in manifest["inputs"]}
    assert statuses["export_again.csv"] == "duplicate"

    night3(study)
    assert study.run("2021-06-10T12:00:00Z") == 0
    n3 = study.text(DAY1.format("2021_06_10"))
    assert n3.splitlines()[1].startswith("2021-06-01 08:00:00") and ",FR," in n3
    outages = study.text("OUTAGES.txt")
    assert "CORRECTION  for: 2021-06-01" in outages
    # it says what a reader needs: how many rows of the day were replaced
    assert "1 row(s) replaced; 2 rows now" in outages
    # every closed day has a file for today's recorded date (reissue: all)
    recorded_today = [f for f in study.daily() if f.endswith("recordedby_2021_06_10.csv")]
    assert len(recorded_today) == 9  # 06-01 .. 06-09

    latest = load_latest(str(study.pub))
    assert len(latest) == 3  # K0, O1, K2
    assert latest["UserLanguage"].tolist() == ["FR", "EN", "EN"]
    assert str(latest["B2"].dtype) == "string"  # "4,5" is not a number

    # a fourth run at the same clock with nothing new: unchanged files keep their mtime
    before = {f: (study.pub / f).stat().st_mtime_ns for f in study.daily()}
    assert study.run("2021-06-10T12:30:00Z") == 0
    after = {f: (study.pub / f).stat().st_mtime_ns for f in before}
    assert before == after
    assert set(study.daily()) == set(before)


def test_reissue_changed_only_writes_changed_and_recent_days(tmp_path):
    study = Study(tmp_path, options={"reissue": "changed", "stabilization_days": 1})
    night1(study)
    assert study.run("2021-06-02T12:00:00Z") == 0
    write_export(study.drop, "e2.csv", [response("K9", "ok9", "2021-06-05 09:00:00")])
    assert study.run("2021-06-06T12:00:00Z") == 0
    names = study.daily()
    # 06-01 did not change and is outside the 1-day window: no new version of it
    assert DAY1.format("2021_06_06") not in names
    assert "cvid_responses_2021_06_05_recordedby_2021_06_06.csv" in names


def test_bad_file_is_quarantined_and_others_go_through(tmp_path):
    study = Study(tmp_path)
    night1(study)
    bad = study.drop / "broken.csv"
    bad.write_bytes((study.drop / "export_2021_06_02.csv").read_bytes() + b"x,y\n")
    assert study.run("2021-06-02T12:00:00Z") == 0
    assert study.daily() == [DAY1.format("2021_06_02")]
    assert bad.exists()  # nothing is deleted from the drop
    kept = list((tmp_path / "archive" / "quarantine").glob("*broken.csv"))
    assert len(kept) == 1 and kept[0].read_bytes() == bad.read_bytes()
    outages = study.text("OUTAGES.txt")
    assert "broken.csv" in outages and "line" in outages and "quarantined" in outages


def test_truncated_gzip_export_is_quarantined(tmp_path):
    import gzip

    study = Study(tmp_path)
    night1(study)
    data = gzip.compress((study.drop / "export_2021_06_02.csv").read_bytes())
    (study.drop / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    assert study.run("2021-06-02T12:00:00Z") == 0
    assert "cut.csv.gz" in study.text("OUTAGES.txt")


def test_second_run_is_refused_while_one_holds_the_lock(tmp_path, capsys):
    study = Study(tmp_path)
    night1(study)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    with store.run_lock():
        assert study.run("2021-06-02T12:00:00Z") == 75  # EX_TEMPFAIL: try later
    err = capsys.readouterr().err
    assert "another run is in progress" in err and err.count("\n") == 1
    assert study.daily() == []
    assert study.run("2021-06-02T12:00:00Z") == 0  # and the lock is free afterwards


def test_days_before_their_cutoff_are_not_published(tmp_path):
    study = Study(tmp_path)
    night1(study)
    assert study.run("2021-06-02T10:59:00Z") == 0  # 03:59 PDT: 06-01 not closed yet
    assert study.daily() == []


def test_responses_recorded_after_the_clock_wait_for_a_later_run(tmp_path):
    study = Study(tmp_path)
    night1(study)
    night2(study)  # holds O1, recorded 06-02 14:00 PDT
    assert study.run("2021-06-02T12:00:00Z") == 0
    assert "11:00:00,3," in study.text(DAY1.format("2021_06_02"))  # still F1
    assert study.run("2021-06-03T12:00:00Z") == 0
    assert "2021-06-01 10:00:00" in study.text(DAY1.format("2021_06_03"))  # now O1


@pytest.mark.parametrize("flag", ["--publish", "--source"])
def test_flags_override_the_file(tmp_path, flag):
    study = Study(tmp_path)
    night1(study)
    other = tmp_path / "other"
    if flag == "--source":
        shutil.move(study.drop, other)
    assert study.run("2021-06-02T12:00:00Z", flag, str(other)) == 0
    target = other if flag == "--publish" else study.pub
    assert (target / DAY1.format("2021_06_02")).exists()


def test_monthly_rollups_after_the_window_and_rebuilt_on_correction(tmp_path):
    import io
    import tarfile

    # a month without new responses: the gap refusal is lifted for this study
    study = Study(tmp_path, options={"reissue": "changed", "max_gap_days": 60})
    night1(study)
    assert study.run("2021-07-04T12:00:00Z") == 0  # June ended 3 days ago: no rollup yet
    assert "monthly/2021-06.csv.gz" not in study.files()
    assert study.run("2021-07-05T12:00:00Z") == 0  # 5 days > stabilization_days (4)
    assert {"monthly/2021-06.csv.gz", "monthly/2021-06.tar"} <= set(study.files())
    month = study.text("monthly/2021-06.csv.gz")
    assert month.count("StartDatetime") == 1 and month.count("\n") == 3
    with tarfile.open(fileobj=io.BytesIO((study.pub / "monthly/2021-06.tar").read_bytes())) as tf:
        names = tf.getnames()
    assert len(names) == 30 and names[0] == DAY1.format("2021_07_04")
    night3(study)  # ok1 answered earlier by someone recorded 06-09: a June correction
    assert study.run("2021-07-06T12:00:00Z") == 0
    assert "FR" in study.text("monthly/2021-06.csv.gz")
    assert "Monthly rollup monthly/2021-06.csv.gz and monthly/2021-06.tar rebuilt" in study.text(
        "OUTAGES.txt"
    )


def test_previous_version_removed_by_hand_is_uploaded_from_cache(tmp_path):
    study = Study(tmp_path, options={"reissue": "all"})
    night1(study)
    assert study.run("2021-06-02T12:00:00Z") == 0
    first = study.pub / DAY1.format("2021_06_02")
    data = first.read_bytes()
    first.unlink()  # an operator tidied up the server
    assert study.run("2021-06-03T12:00:00Z") == 0
    assert (study.pub / DAY1.format("2021_06_03")).read_bytes() == data


def test_gzip_daily_files(tmp_path):
    import gzip

    study = Study(tmp_path, options={"gzip_daily": True})
    night1(study)
    assert study.run("2021-06-02T12:00:00Z") == 0
    name = DAY1.format("2021_06_02") + ".gz"
    assert name in study.daily()
    assert gzip.decompress((study.pub / name).read_bytes()).count(b"\n") == 3


def test_closed_stdout_does_not_fail_a_committed_run(tmp_path):
    """`python -m pipeline run ... | head -n 1`: the reader leaves before the listing ends."""
    study = Study(tmp_path)
    night1(study)
    cmd = [sys.executable, "-m", "pipeline", "run", "--config", str(study.config),
           "--as-of", "2021-06-02T12:00:00Z"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before anything is printed
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert study.daily()  # the run published and committed


def test_a_run_that_fails_while_publishing_leaves_no_trace(tmp_path, monkeypatch, capsys):
    """The publish step commits the run's state once its files are published; a failure
    before that commits nothing, and the next run does it all."""
    from pipeline.panel import codebook

    study = Study(tmp_path)
    night1(study)
    real_render = codebook.render

    def crash(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(codebook, "render", crash)
    assert study.run("2021-06-02T12:00:00Z") != 0
    assert "disk full (simulated)" in capsys.readouterr().err
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    assert store.ledger_rows(["fw", "ok1"]).empty and store.last_seq() == 0
    monkeypatch.setattr(codebook, "render", real_render)
    assert study.run("2021-06-02T12:00:00Z") == 0
    assert sorted(store.ledger_rows(["fw", "ok1"])["token"]) == ["fw", "ok1"]
    assert study.daily() == [DAY1.format("2021_06_02")]


def test_committed_runs_leave_no_staging_folders(tmp_path):
    """Staging files of a run (`{archive}/_work/runs/{run_id}`) go once it has committed;
    a failed run's stay (for re-execution from the failed step) until they are a week old."""
    import os
    import time

    study = Study(tmp_path)
    runs = tmp_path / "archive" / "_work" / "runs"
    stale, recent = runs / "old-failed-run", runs / "new-failed-run"
    for folder in (stale, recent):
        (folder / "checks").mkdir(parents=True)
    week_ago = time.time() - 8 * 86400
    os.utime(stale, (week_ago, week_ago))
    night1(study)
    assert study.run("2021-06-02T12:00:00Z") == 0
    assert [p.name for p in runs.iterdir()] == ["new-failed-run"]
    assert (tmp_path / "archive" / "_work" / "days").is_dir()  # derived data stays


def test_latest_command_writes_the_newest_versions_as_published(tmp_path):
    """`latest --out` gives the newest version of every day with the published values
    (numbers as published, `4,5` and NA untouched), one header."""
    from pipeline.cli import main

    study = Study(tmp_path)
    night1(study)
    assert study.run("2021-06-02T12:00:00Z") == 0
    night2(study)
    assert study.run("2021-06-03T12:00:00Z") == 0
    newest = ["cvid_responses_2021_06_01_recordedby_2021_06_03.csv",
              "cvid_responses_2021_06_02_recordedby_2021_06_03.csv"]  # fmt: skip
    assert set(newest) <= set(study.daily())
    out = tmp_path / "latest.csv"
    assert main(["latest", str(study.pub), "--out", str(out)]) == 0
    texts = [study.text(n).splitlines() for n in newest]
    assert out.read_text().splitlines() == [texts[0][0], *texts[0][1:], *texts[1][1:]]


def test_a_run_committed_between_two_steps_makes_the_later_commit_fail(tmp_path):
    """The state a run read is the state its first step saw: when another run commits
    between this run's steps (another process), this run's commit is refused."""
    from datetime import UTC, datetime

    from pipeline.config import load_config
    from pipeline.context import RunContext
    from pipeline.panel.stages import days, eligibility, ledger, normalize
    from pipeline.panel.stages import fetch as fetching
    from pipeline.panel.stages import lag as lagging
    from pipeline.panel.stages.publish import publish_and_commit
    from pipeline.state.store import RunInProgressError

    study = Study(tmp_path)
    night1(study)
    cfg = load_config(study.config)
    store = StateStore(cfg.state)
    clock = datetime(2021, 6, 2, 12, tzinfo=UTC)
    ctx = RunContext(cfg, clock, store, base_seq=store.last_seq())
    fetch = fetching.fetch_exports(ctx)
    norm = normalize.normalize_exports(ctx, fetch)
    elig = eligibility.apply_eligibility(ctx, norm)
    delta = ledger.resolve_collisions(ctx, elig)
    lag = lagging.apply_lag_policy(ctx, delta)
    build = days.build_days(ctx, norm, delta, lag)
    assert study.run("2021-06-02T12:00:00Z") == 0  # another run commits meanwhile
    late = RunContext(cfg, clock, store, base_seq=store.last_seq())  # the publish step's view
    with pytest.raises(RunInProgressError, match="state changed under this run"):
        publish_and_commit(late, fetch, norm, elig, delta, lag, build)
    assert store.last_seq() == 1


def _state_dump(study: Study) -> dict[str, list[tuple]]:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(study.root / "state.db")) as con:
        return {
            "ledger": sorted(con.execute("SELECT * FROM ledger").fetchall()),
            "days": sorted(con.execute("SELECT day, rows, csv_sha FROM days").fetchall()),
        }


def test_rows_staged_for_the_commit_land_as_committed_directly(tmp_path, monkeypatch):
    """Large ledger writes are staged (a SQLite file the commit copies from):
    three nights with every write staged leave the state and files of direct commits."""
    import pipeline.state.store as store_module

    studies = {}
    for name, threshold in (("direct", 10**9), ("staged", 1)):
        monkeypatch.setattr(store_module, "BULK_MIN_ROWS", threshold)
        study = Study(tmp_path / name, options={"reissue": "all"})
        for night, clock in (
            (night1, "2021-06-02"),
            (night2, "2021-06-03"),
            (night3, "2021-06-10"),
        ):
            night(study)
            assert study.run(f"{clock}T12:00:00Z") == 0
        studies[name] = study
    direct, staged = studies["direct"], studies["staged"]
    assert _state_dump(staged)["ledger"] and _state_dump(staged) == _state_dump(direct)
    assert staged.daily() == direct.daily()
    assert all(staged.text(f) == direct.text(f) for f in direct.daily())
