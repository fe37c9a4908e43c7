"""pipeline.archive: the content-addressed raw archive and its quarantine (SPEC §2, §6)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.archive import Archive, sha256


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _temp_names(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_sha256_is_the_hex_digest():
    assert sha256(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert len(sha256(b"")) == 64


def test_put_stores_bytes_under_their_hash_and_get_returns_them(tmp_path):
    archive = Archive(tmp_path / "archive")
    data = b"StartDate,EndDate\r\n2021-06-01 10:00:00,x\r\n"
    digest = archive.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert archive.path(digest) == tmp_path / "archive" / digest[:2] / digest
    assert archive.path(digest).read_bytes() == data
    assert archive.get(digest) == data


def test_the_same_bytes_are_stored_once(tmp_path):
    archive = Archive(tmp_path / "archive")
    first = archive.put(b"one file")
    before = archive.path(first).stat()
    assert archive.put(b"one file") == first
    after = archive.path(first).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    other = archive.put(b"another file")
    assert other != first
    assert _files(archive.root) == sorted([f"{first[:2]}/{first}", f"{other[:2]}/{other}"])


def test_empty_and_binary_bytes_round_trip(tmp_path):
    archive = Archive(tmp_path / "archive")
    blobs = [b"", bytes(range(256)), b"\x1f\x8b\x08" + b"\x00" * 100]
    for blob in blobs:
        assert archive.get(archive.put(blob)) == blob


def test_writes_leave_no_temp_file(tmp_path):
    archive = Archive(tmp_path / "archive")
    for i in range(20):
        archive.put(f"file {i}".encode())
    archive.quarantine(archive.put(b"bad"), "bad.csv", "bad.csv: line 3: ragged row")
    assert _temp_names(archive.root) == []


def test_a_failed_write_leaves_no_temp_file(tmp_path):
    archive = Archive(tmp_path / "archive")
    digest = archive.put(b"bad bytes")
    # a folder in the way of the error file: the rename over it fails
    blocked = archive.root / "quarantine" / f"{digest[:12]}_bad.csv.error.txt"
    blocked.mkdir(parents=True)
    with pytest.raises(OSError):
        archive.quarantine(digest, "bad.csv", "bad.csv: line 1: bad header")
    assert _temp_names(archive.root) == []
    assert archive.get(digest) == b"bad bytes"  # the archived bytes are untouched


def test_get_of_unknown_bytes_fails(tmp_path):
    with pytest.raises(FileNotFoundError):
        Archive(tmp_path / "archive").get(sha256(b"never stored"))


def test_quarantine_keeps_the_bytes_and_the_one_line_error(tmp_path):
    archive = Archive(tmp_path / "archive")
    data = b"StartDate\n\xff\xfe not utf-8\n"
    digest = archive.put(data)
    error = "export_2021_06_02.csv: line 2: not UTF-8 text"
    kept = archive.quarantine(digest, "export_2021_06_02.csv", error)
    assert kept == archive.root / "quarantine" / f"{digest[:12]}_export_2021_06_02.csv"
    assert kept.read_bytes() == data
    error_file = kept.with_name(kept.name + ".error.txt")
    assert error_file.read_text() == error + "\n"
    assert archive.get(digest) == data  # never deleted from the archive


def test_quarantine_never_deletes_and_stores_a_file_once(tmp_path):
    archive = Archive(tmp_path / "archive")
    digest = archive.put(b"ragged")
    kept = archive.quarantine(digest, "a.csv", "a.csv: line 4: 3 fields, expected 5")
    inode = kept.stat().st_ino
    again = archive.quarantine(digest, "a.csv", "a.csv: line 4: 3 fields, expected 5")
    assert again == kept and kept.stat().st_ino == inode  # bytes not written twice
    other = archive.quarantine(digest, "b.csv", "b.csv: line 4: 3 fields, expected 5")
    assert other != kept
    names = sorted(p.name for p in (archive.root / "quarantine").iterdir())
    assert names == sorted([kept.name, kept.name + ".error.txt", other.name,
                            other.name + ".error.txt"])  # fmt: skip
    assert kept.read_bytes() == other.read_bytes() == archive.get(digest) == b"ragged"


def test_quarantine_names_stay_inside_the_quarantine_folder(tmp_path):
    archive = Archive(tmp_path / "archive")
    digest = archive.put(b"x")
    for name in ("../../escape.csv", "sub dir/fil e?.csv", "/etc/passwd", ".."):
        kept = archive.quarantine(digest, name, "malformed")
        assert kept.parent == archive.root / "quarantine"
        assert kept.name.startswith(digest[:12] + "_")
        assert "/" not in kept.name[13:] and " " not in kept.name
        assert kept.read_bytes() == b"x"
    assert not (tmp_path / "escape.csv").exists()
    assert kept.with_name(kept.name + ".error.txt").read_text() == "malformed\n"
