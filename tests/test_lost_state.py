"""A lost state, a lost work folder and a changed archive (issue 28): nightly runs refuse with
the way out, `rebuild` restores the state from the raw archive and what is published, and
the nights after converge to an undisturbed control. Nothing published is rewritten."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.state.store import StateStore
from tests.exports import response, write_export
from tests.study import Study

CLOCK = "2021-06-{:02d}T12:00:00Z"


def _night(study: Study, night: int) -> None:
    day = night - 1
    write_export(study.drop, f"export_2021_06_{night:02d}.csv", [
        response(f"R{day}a", f"tok{day}a", f"2021-06-{day:02d} 09:00:00"),
        response(f"R{day}b", f"tok{day}b", f"2021-06-{day:02d} 15:00:00", A1_1="2"),
        # a late copy of an earlier day's link: a collision in the ledger
        response(f"R{day}c", "tok1a", f"2021-06-{day:02d} 16:00:00"),
    ])  # fmt: skip


def _study(root: Path) -> Study:
    study = Study(root, options={"reissue": "all"})
    for night in (2, 3, 4):
        _night(study, night)
        assert study.run(CLOCK.format(night)) == 0
    args = ["outage", "add", "--config", str(study.config), "--kind", "NOTICE",
            "--message", "Survey wording of A1 changed on 2021-06-02.", "--days", "2021-06-02"]  # fmt: skip
    assert main(args) == 0
    return study


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _public(tree: dict[str, bytes]) -> dict[str, bytes]:
    """Without run manifests and SHA256SUMS (run ids differ between two studies), and with
    OUTAGES.txt's entries without their times (the operator's entries carry the wall clock)."""
    out = {k: v for k, v in tree.items() if not k.startswith("runs/") and k != "SHA256SUMS"}
    out["OUTAGES.txt"] = re.sub(rb"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+  ", b"\nT  ",
                                out["OUTAGES.txt"])  # fmt: skip
    return out


def _sums_check(folder: Path) -> None:
    done = subprocess.run(["sha256sum", "-c", "--strict", "--quiet", "SHA256SUMS"], cwd=folder,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _lose_state(study: Study) -> None:
    for p in study.root.glob("state.db*"):
        p.unlink()


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_lost_state_is_refused_then_restored_by_rebuild(tmp_path, capsys):
    control, study = _study(tmp_path / "control"), _study(tmp_path / "lost")
    published, cids = _tree(study.pub), _tree(study.cids)
    with_state = StateStore(f"sqlite:///{study.root / 'state.db'}")
    outages_before = [(e["kind"], e["days"], e["message"]) for e in with_state.outages()]
    cid_days_before = sorted(with_state.cid_list_days())
    with_state.dispose()
    _lose_state(study)
    capsys.readouterr()

    _night(study, 5)
    assert study.run(CLOCK.format(5)) == 2
    assert "rebuild" in _one_line(capsys)
    assert _tree(study.pub) == published  # nothing published was touched

    assert main(["rebuild", "--config", str(study.config)]) == 0
    assert _tree(study.pub) == published  # the same bytes come out: nothing re-sent
    store = StateStore(f"sqlite:///{study.root / 'state.db'}")
    try:
        assert [(e["kind"], e["days"], e["message"]) for e in store.outages()] == outages_before
        assert sorted(store.cid_list_days()) == cid_days_before
        assert set(store.checksums()) == {n for n in published if n != "SHA256SUMS"}
    finally:
        store.dispose()

    # the next night converges to the control that never lost its state
    _night(control, 5)
    assert control.run(CLOCK.format(5)) == 0
    assert study.run(CLOCK.format(5)) == 0
    assert _public(_tree(study.pub)) == _public(_tree(control.pub))
    assert _tree(study.cids) == _tree(control.cids)  # no token listed twice
    assert _tree(study.cids).keys() > cids.keys()
    _sums_check(study.pub)


def test_a_lost_work_folder_names_the_way_out(tmp_path, capsys):
    study = _study(tmp_path)
    shutil.rmtree(study.root / "archive" / "_work")
    _night(study, 5)
    capsys.readouterr()
    assert study.run(CLOCK.format(5)) == 1
    err = _one_line(capsys)
    assert "WorkFolderLostError" in err and "pipeline rebuild" in err
    assert main(["rebuild", "--config", str(study.config)]) == 0
    assert study.run(CLOCK.format(5)) == 0
    _sums_check(study.pub)


def test_a_changed_archive_file_stops_the_rebuild_and_names_it(tmp_path, capsys):
    study = _study(tmp_path)
    published = _tree(study.pub)
    archived = next(p for p in (study.root / "archive").glob("??/*") if b"tok2a" in p.read_bytes())
    archived.chmod(0o644)
    archived.write_bytes(archived.read_bytes().replace(b"tok2a", b"tok2z"))
    capsys.readouterr()
    assert main(["rebuild", "--config", str(study.config)]) == 1
    err = _one_line(capsys)
    assert archived.name in err and "no longer match" in err
    assert "tok2" not in err  # names the file, never its content
    assert _tree(study.pub) == published


@pytest.mark.parametrize("lost", ["state"])
def test_a_rebuild_of_a_lost_state_publishes_nothing_new(tmp_path, lost):
    """Rebuilding twice in a row after a loss: the second finds a committed run and is an
    ordinary rebuild, still changing nothing published."""
    study = _study(tmp_path)
    published = _tree(study.pub)
    _lose_state(study)
    assert main(["rebuild", "--config", str(study.config)]) == 0
    assert main(["rebuild", "--config", str(study.config)]) == 0
    assert _tree(study.pub) == published
