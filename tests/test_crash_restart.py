"""Crash-restart (SPEC §5, §6): a run killed (SIGKILL) while it publishes, then run again,
leaves the publish folder exactly as an uninterrupted run does: the same files with the
same bytes, no temporary name, one manifest per committed run, and a SHA256SUMS that
``sha256sum -c`` accepts. While it lies dead, SHA256SUMS never lists a missing file.

After the three nights of tests/test_nights.py, a fourth night adds a day: it re-issues
the nine unchanged days by hard link, writes the new day, and replaces the cumulative file
(the old one is removed): every step a kill can interrupt. Nights 1-3 run once per test
and are restored from a snapshot before each kill point.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.exports import response, write_export
from tests.study import Study
from tests.test_nights import night1, night2, night3
from tests.test_sftp_pipeline import sftp_study, sums_of, tree_of

ROOT = Path(__file__).resolve().parents[1]
CLOCKS = ["2021-06-02T12:00:00Z", "2021-06-03T12:00:00Z", "2021-06-10T12:00:00Z"]
CRASH_CLOCK = "2021-06-11T12:00:00Z"
LINKED_DAYS = 9  # 06-01 .. 06-09 are unchanged on night 4

LOCAL_POINTS = [
    ("link-tmp", 3),  # a temp hard link made, not yet renamed
    ("after-link", LINKED_DAYS),  # every day re-issued, nothing committed
    ("mid-write:_-_", 1),  # the new cumulative file under its temp name
    ("after-write:_-_", 1),  # the new cumulative in place, the old one still listed
    ("after-write:SHA256SUMS", 1),  # SHA256SUMS written, the old cumulative still there
    ("after-remove", 1),  # committed, the old cumulative removed, the journal still there
]
SFTP_POINTS = [("link-tmp", 3), ("after-link", LINKED_DAYS), ("mid-write:_-_", 1)]


def night4(study: Study) -> None:
    write_export(study.drop, "export_2021_06_11.csv", [
        response("K4", "ok4", "2021-06-10 09:00:00", "2021-06-10 09:30:00"),
    ])  # fmt: skip


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict[str, bytes], dict[str, str]]:
    """What four uninterrupted nights publish (local folders): (tree, SHA256SUMS)."""
    study = Study(tmp_path_factory.mktemp("reference"), options={"reissue": "all"})
    nights = (night1, night2, night3, night4)
    for night, clock in zip(nights, [*CLOCKS, CRASH_CLOCK], strict=True):
        night(study)
        assert study.run(clock) == 0
    assert len(study.daily()) == 12 + LINKED_DAYS + 1
    return tree_of(study.pub), sums_of(study.pub)


def _crash(study: Study, point: str, nth: int) -> subprocess.CompletedProcess[str]:
    """Night 4 in a child process that SIGKILLs itself at ``point``."""
    cmd = [sys.executable, "-m", "tests.crash_run", point, str(nth),
           "run", "--config", str(study.config), "--as-of", CRASH_CLOCK]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "PIPELINE_LOG_LEVEL")}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def _listed_missing(pub: Path) -> list[str]:
    """Names SHA256SUMS lists that are not in the folder."""
    names = [line.split("  ", 1)[1] for line in (pub / "SHA256SUMS").read_text().splitlines()]
    return [n for n in names if not (pub / n).is_file()]


def _temp_names(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(".*"))


def _check_recovered(study: Study, reference, point: str) -> None:
    tree, sums = reference
    assert _temp_names(study.pub) == [], point
    assert tree_of(study.pub) == tree, point  # same names, same bytes
    # committed runs only: a run killed while removing superseded files had committed
    committed = 5 if point == "after-remove" else 4
    assert len(list((study.pub / "runs").glob("*.json"))) == committed, point
    assert sums_of(study.pub) == sums, point
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", "--quiet", "SHA256SUMS"],
        cwd=study.pub, capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, (point, check.stdout, check.stderr)
    journals = list((study.root / "archive" / "_work" / "publishing").rglob("*.names"))
    assert journals == [], point


def _crash_and_recover(study: Study, snapshot: dict[Path, Path], reference, points) -> None:
    for point, nth in points:
        for live, saved in snapshot.items():  # back to the state after night 3
            shutil.rmtree(live)
            shutil.copytree(saved, live, symlinks=True)
        proc = _crash(study, point, nth)
        assert proc.returncode == -9, (point, proc.returncode, proc.stderr[-2000:])
        assert _listed_missing(study.pub) == [], point  # even while it lies dead
        assert study.run(CRASH_CLOCK) == 0, point
        _check_recovered(study, reference, point)


def _nights_1_to_3(study: Study, folders: list[Path], keep: Path) -> dict[Path, Path]:
    for night, clock in zip((night1, night2, night3), CLOCKS, strict=True):
        night(study)
        assert study.run(clock) == 0
    night4(study)  # the fourth night's input is waiting in the drop
    snapshot = {}
    for i, folder in enumerate(folders):
        snapshot[folder] = keep / str(i)
        shutil.copytree(folder, snapshot[folder], symlinks=True)
    return snapshot


def test_local_publish_folder_recovers_from_a_kill_at_any_point(tmp_path, reference):
    study = Study(tmp_path / "study", options={"reissue": "all"})
    snapshot = _nights_1_to_3(study, [study.root], tmp_path / "snapshot")
    _crash_and_recover(study, snapshot, reference, LOCAL_POINTS)


def test_sftp_publish_folder_recovers_from_a_kill_at_any_point(tmp_path, sshd, reference):
    study = sftp_study(tmp_path / "study", sshd, source=False, cids=False, reissue="all")
    snapshot = _nights_1_to_3(study, [study.root, study.pub], tmp_path / "snapshot")
    _crash_and_recover(study, snapshot, reference, SFTP_POINTS)
