"""The local folder location: atomic and idempotent writes, and drops that are safe to list
(SPEC §5, §6): nothing outside the folder, no special file, no temp name left behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pipeline.locations import LocalLocation, LocationUnavailable, UnsafePathError, is_temp_name


def _all_names(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


def test_link_or_copy_twice_leaves_no_temp_name(tmp_path):
    """The issue's repro: linking a day again (a re-run after a crash) is a no-op."""
    loc = LocalLocation(tmp_path)
    loc.write_atomic("a.csv", b"day")
    assert loc.link_or_copy("a.csv", "b.csv") == "hardlink"
    assert loc.link_or_copy("a.csv", "b.csv") == "hardlink"
    assert _all_names(tmp_path) == ["a.csv", "b.csv"]
    assert (tmp_path / "a.csv").stat().st_ino == (tmp_path / "b.csv").stat().st_ino


def test_link_or_copy_replaces_another_file_and_sweeps_a_stale_temp(tmp_path):
    loc = LocalLocation(tmp_path)
    loc.write_atomic("a.csv", b"new")
    loc.write_atomic("b.csv", b"old")
    (tmp_path / ".b.csv.link.tmp").write_bytes(b"left by a killed run")
    assert loc.link_or_copy("a.csv", "b.csv") == "hardlink"
    assert (tmp_path / "b.csv").read_bytes() == b"new"
    assert _all_names(tmp_path) == ["a.csv", "b.csv"]
    with pytest.raises(FileNotFoundError):
        loc.link_or_copy("missing.csv", "c.csv")
    assert _all_names(tmp_path) == ["a.csv", "b.csv"]


def test_remove_temp_files_removes_only_temp_names(tmp_path):
    loc = LocalLocation(tmp_path / "pub")
    assert loc.remove_temp_files() == []  # no folder yet: nothing to do, no error
    loc.write_atomic("runs/r1.json", b"{}")
    loc.write_atomic("a.csv", b"a")
    temps = [".a.csv.0123456789ab.tmp", "runs/.r2.json.a1b2c3d4e5f6.tmp", ".b.csv.link.tmp",
             ".c.csv.x7_kq2zz.tmp"]  # fmt: skip
    kept = [".hidden", ".notes.tmp", "a.csv.tmp"]  # not names this pipeline makes
    for name in temps + kept:
        (tmp_path / "pub" / name).write_bytes(b"x")
    assert all(is_temp_name(n.rsplit("/", 1)[-1]) for n in temps)
    assert sorted(loc.remove_temp_files()) == sorted(temps)
    assert _all_names(tmp_path / "pub") == sorted([*kept, "a.csv", "runs/r1.json"])


def test_missing_or_unmounted_root_cannot_be_listed(tmp_path):
    with pytest.raises(LocationUnavailable) as err:
        LocalLocation(tmp_path / "not-mounted").list_files()
    assert str(err.value) == f"{tmp_path / 'not-mounted'}: cannot list the location: no such folder"
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(LocationUnavailable, match="not a folder"):
        LocalLocation(tmp_path / "file").list_files()
    assert LocalLocation(tmp_path / "new").stat("x.csv") is None  # a publish folder to be


def test_drop_listing_skips_what_is_unsafe_and_never_opens_it(tmp_path):
    drop, outside = tmp_path / "drop", tmp_path / "outside"
    (drop / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.csv").write_bytes(b"secret")
    (drop / "ok.csv").write_bytes(b"ok")
    (drop / "sub" / "deep.csv").write_bytes(b"deep")
    (drop / "alias.csv").symlink_to(drop / "ok.csv")  # inside: followed
    (drop / "evil.csv").symlink_to(outside / "secret.csv")
    (drop / "relative.csv").symlink_to("../outside/secret.csv")
    (drop / "linked").symlink_to(outside, target_is_directory=True)
    (drop / "loop").symlink_to(drop, target_is_directory=True)
    (drop / "dangling.csv").symlink_to(drop / "gone.csv")
    (drop / "x\\..\\..\\secret.csv").write_bytes(b"backslash")
    os.mkfifo(drop / "pipe.csv")

    loc = LocalLocation(drop)
    files = loc.list_files()
    assert [f.path for f in files] == ["alias.csv", "ok.csv", "sub/deep.csv"]
    assert files[0].size == 2
    assert loc.unsafe_names == ["x\\..\\..\\secret.csv"]
    assert loc.skipped == {
        "x\\..\\..\\secret.csv": "unsafe name",
        "dangling.csv": "dangling symlink",
        "evil.csv": "symlink leads outside the location",
        "linked": "symlink leads outside the location",
        "loop": "symlinked folder (not followed)",
        "pipe.csv": "not a regular file (FIFO, socket or device)",
        "relative.csv": "symlink leads outside the location",
    }
    assert loc.read_bytes("alias.csv") == b"ok"
    for bad in ("evil.csv", "relative.csv", "linked/secret.csv"):
        with pytest.raises(UnsafePathError, match="leads outside"):
            loc.read_bytes(bad)

    # a FIFO asked for by name is refused at once (a writer never comes: no hang)
    result: list[BaseException] = []

    def read_fifo() -> None:
        try:
            loc.read_bytes("pipe.csv")
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result.append(exc)

    reader = threading.Thread(target=read_fifo, daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "reading a FIFO hung"
    assert isinstance(result[0], IsADirectoryError) and "not a regular file" in str(result[0])


def test_write_atomic_leaves_no_temp_name_on_failure(tmp_path):
    loc = LocalLocation(tmp_path)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_bytes(b"")
    with pytest.raises(OSError):
        loc.write_atomic("taken", b"data")  # renaming a file over a folder fails
    assert _all_names(tmp_path) == ["taken/x"]
