"""A run that fails with an error it can handle leaves the publish folder as the state has
it (issue 28): no publication the state does not know, and ``sha256sum -c`` passes. Real
faults: a state database that refuses the commit, a manifest folder that cannot be made."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.exports import response, write_export
from tests.study import Study


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _night(study: Study, night: int) -> None:
    day = night - 1
    write_export(study.drop, f"export_2021_06_{night:02d}.csv", [
        response(f"R{day}", f"tok{day}", f"2021-06-{day:02d} 09:00:00"),
    ])  # fmt: skip


def _sums_check(folder: Path) -> None:
    done = subprocess.run(["sha256sum", "-c", "--strict", "--quiet", "SHA256SUMS"], cwd=folder,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _two_nights(tmp_path: Path) -> Study:
    study = Study(tmp_path, options={"reissue": "all"})
    for night in (2, 3):
        _night(study, night)
        assert study.run(f"2021-06-{night:02d}T12:00:00Z") == 0
    _night(study, 4)
    return study


def test_a_refused_commit_rolls_the_folder_back(tmp_path, capsys):
    study = _two_nights(tmp_path)
    before = _tree(study.pub)
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'full'); END")
    db.commit()
    capsys.readouterr()
    assert study.run("2021-06-04T12:00:00Z") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tok3" not in err and "R3" not in err
    assert _tree(study.pub) == before  # no new day file, manifest or cumulative left
    _sums_check(study.pub)
    db.execute("DROP TRIGGER refuse")
    db.commit()
    db.close()
    assert study.run("2021-06-04T12:00:00Z") == 0  # the next run does it all
    assert any("2021_06_03_recordedby_2021_06_04" in name for name in _tree(study.pub))
    _sums_check(study.pub)


def test_a_manifest_that_cannot_be_written_rolls_the_folder_back(tmp_path):
    study = _two_nights(tmp_path)
    runs = study.pub / "runs"
    saved = {p.name: p.read_bytes() for p in runs.iterdir()}
    before = _tree(study.pub)
    for p in runs.iterdir():
        p.unlink()
    runs.rmdir()
    runs.write_bytes(b"not a folder")  # the manifest's folder cannot be made
    assert study.run("2021-06-04T12:00:00Z") == 1
    after = _tree(study.pub)
    after.pop("runs")
    assert after == {k: v for k, v in before.items() if not k.startswith("runs/")}
    runs.unlink()
    runs.mkdir()
    for name, data in saved.items():
        (runs / name).write_bytes(data)
    _sums_check(study.pub)
    assert study.run("2021-06-04T12:00:00Z") == 0
    _sums_check(study.pub)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (tests run as root, as CI does): a real full disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_publish_disk_is_named_and_rolled_back(tmp_path, small_disk, capsys):
    study = Study(tmp_path / "study", publish=str(small_disk / "publish"))
    study.pub = small_disk / "publish"
    _night(study, 2)
    assert study.run("2021-06-02T12:00:00Z") == 0
    before = _tree(study.pub)
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk up to its last bytes
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    _night(study, 3)
    capsys.readouterr()
    assert study.run("2021-06-03T12:00:00Z") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "No space left" in err and str(study.pub) in err  # names the location and file
    assert _tree(study.pub) == before  # rolled back: nothing the state does not know
    _sums_check(study.pub)
    filler.unlink()
    assert study.run("2021-06-03T12:00:00Z") == 0
    _sums_check(study.pub)


def test_superseded_day_stores_are_removed_after_the_commit(tmp_path):
    study = Study(tmp_path, options={"reissue": "all"})
    for night in (2, 3, 4, 5):
        _night(study, night)
        # each night also brings a late response of the first day: its store is rebuilt
        write_export(study.drop, f"late_{night}.csv", [
            response(f"L{night}", f"late{night}", "2021-06-01 10:00:00"),
        ])  # fmt: skip
        assert study.run(f"2021-06-{night:02d}T12:00:00Z") == 0
    stores = tmp_path / "archive" / "_work" / "days"
    assert sorted(len(list(d.glob("*.arrow"))) for d in stores.iterdir()) == [1, 1, 1, 1]
    assert not [p for p in (tmp_path / "archive" / "_work").rglob("*") if p.is_file()
                and p.stat().st_size == 0]  # fmt: skip


def test_postgresql_gone_at_the_commit_rolls_the_folder_back(tmp_path, postgres_url, capsys):
    """The database server ends the run's connection in the middle of its commit (a real
    server-side termination): the folder is rolled back without asking the database."""
    import sqlalchemy as sa

    study = Study(tmp_path, state=postgres_url, options={"reissue": "all"})
    for night in (2, 3):
        _night(study, night)
        assert study.run(f"2021-06-{night:02d}T12:00:00Z") == 0
    _night(study, 4)
    before = _tree(study.pub)
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE FUNCTION gone() RETURNS trigger AS $$ BEGIN "
            "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$ LANGUAGE plpgsql"
        ))  # fmt: skip
        conn.execute(sa.text("CREATE TRIGGER gone BEFORE INSERT ON runs "
                             "FOR EACH ROW EXECUTE FUNCTION gone()"))  # fmt: skip
    capsys.readouterr()
    assert study.run("2021-06-04T12:00:00Z") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tok3" not in err and "R3" not in err
    assert _tree(study.pub) == before
    _sums_check(study.pub)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER gone ON runs"))
    engine.dispose()
    assert study.run("2021-06-04T12:00:00Z") == 0
    _sums_check(study.pub)
