"""Published history is immutable (issue 28): no command gives a published daily name other
bytes. A replayed earlier night is refused; a same-day re-run that changes a day keeps
today's version and the next night re-issues the change under its own date."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.state.store import StateStore
from tests.exports import response, write_export
from tests.study import Study


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _nights(study: Study, first: int, last: int) -> None:
    for night in range(first, last + 1):
        day = night - 1
        write_export(study.drop, f"export_2021_06_{night:02d}.csv", [
            response(f"R{day}a", f"t{day}a", f"2021-06-{day:02d} 09:00:00"),
            response(f"R{day}b", f"t{day}b", f"2021-06-{day:02d} 15:00:00"),
        ])  # fmt: skip
        assert study.run(f"2021-06-{night:02d}T12:00:00Z") == 0


def _sums_check(folder: Path) -> None:
    done = subprocess.run(
        ["sha256sum", "-c", "--strict", "--quiet", "SHA256SUMS"],
        cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_replaying_an_earlier_night_is_refused_and_rewrites_nothing(tmp_path, capsys):
    study = Study(tmp_path, options={"reissue": "all"})
    _nights(study, 2, 5)
    before = _snapshot(study.pub)
    capsys.readouterr()
    assert study.run("2021-06-03T12:00:00Z") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "earlier than the last committed run" in err
    assert _snapshot(study.pub) == before
    # the same clock again (a re-run) is fine and changes nothing published
    assert study.run("2021-06-05T12:00:00Z") == 0
    after = _snapshot(study.pub)
    assert {k: v for k, v in after.items() if not k.startswith(("runs/", "SHA256SUMS"))} == {
        k: v for k, v in before.items() if not k.startswith(("runs/", "SHA256SUMS"))
    }
    _sums_check(study.pub)


def test_a_same_day_rerun_keeps_todays_version_and_the_next_night_reissues(tmp_path):
    study = Study(tmp_path, options={"reissue": "changed", "gzip_daily": False})
    _nights(study, 2, 3)
    name = "cvid_responses_2021_06_02_recordedby_2021_06_03.csv"
    first = (study.pub / name).read_bytes()
    # a late response for 06-02 arrives the same day; the run at 18:00 has the same date
    write_export(study.drop, "export_2021_06_03_late.csv", [
        response("R2late", "t2late", "2021-06-02 20:00:00", "2021-06-03 01:00:00"),
    ])  # fmt: skip
    assert study.run("2021-06-03T18:00:00Z") == 0
    assert (study.pub / name).read_bytes() == first  # today's name keeps its bytes
    _sums_check(study.pub)
    store = StateStore(study.state or f"sqlite:///{tmp_path / 'state.db'}")
    try:
        assert store.days()["2021-06-02"]["stale"]
    finally:
        store.dispose()
    assert study.run("2021-06-04T12:00:00Z") == 0
    reissued = study.pub / "cvid_responses_2021_06_02_recordedby_2021_06_04.csv"
    assert b"2021-06-02 20:00:00" in reissued.read_bytes()  # the change, under its own date
    assert (study.pub / name).read_bytes() == first
    _sums_check(study.pub)
