"""SHA256SUMS files (pipeline/checksums.py): one per folder, parquet/'s in the root."""

from __future__ import annotations

import hashlib

from pipeline import checksums
from pipeline.locations.local import LocalLocation

A, B, C, D = ("1" * 64, "2" * 64, "3" * 64, "4" * 64)


def test_each_folder_lists_its_own_files_relative_to_it():
    out = checksums.render({
        "b.csv.gz": B, "a.csv.gz": A, "SHA256SUMS": "0" * 64, "gone.csv": None,
        "cumulative/c.csv.gz": C, "runs/r.json": D, "runs/SHA256SUMS": "0" * 64,
    })  # fmt: skip
    assert out["SHA256SUMS"] == f"{A}  a.csv.gz\n{B}  b.csv.gz\n".encode()
    assert out["cumulative/SHA256SUMS"] == f"{C}  c.csv.gz\n".encode()
    assert out["runs/SHA256SUMS"] == f"{D}  r.json\n".encode()
    assert list(out)[-1] == "SHA256SUMS"  # written last


def test_parquet_sums_live_in_the_root_and_the_root_lists_them():
    out = checksums.render({"x.csv": A, "parquet/day=2021-06-01/part-0.parquet": B})
    parquet = out["parquet.SHA256SUMS"]
    assert parquet == f"{B}  parquet/day=2021-06-01/part-0.parquet\n".encode()
    sha = hashlib.sha256(parquet).hexdigest()
    assert out["SHA256SUMS"] == f"{sha}  parquet.SHA256SUMS\n{A}  x.csv\n".encode()


def test_a_folder_with_nothing_left_loses_its_sums_file():
    out = checksums.render({"monthly/2021-05.tar": None, "monthly/SHA256SUMS": A})
    assert out["monthly/SHA256SUMS"] is None
    assert out["SHA256SUMS"] == b""


def test_read_takes_every_sums_file_and_the_older_single_file_layout(tmp_path):
    loc = LocalLocation(tmp_path)
    loc.write_atomic("SHA256SUMS", f"{A}  a.csv\n{B}  runs/old.json\n".encode())
    loc.write_atomic("docs/SHA256SUMS", f"{C}  codebook.csv\n".encode())
    loc.write_atomic("parquet.SHA256SUMS", f"{D}  parquet/day=2021-06-01/p.parquet\n".encode())
    assert checksums.read(loc) == {
        "a.csv": A, "runs/old.json": B, "docs/codebook.csv": C,
        "parquet/day=2021-06-01/p.parquet": D,
    }  # fmt: skip
    assert checksums.is_sums("docs/SHA256SUMS") and not checksums.is_sums("docs/x.csv")
