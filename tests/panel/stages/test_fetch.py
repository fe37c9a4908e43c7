"""Stage 1, :mod:`pipeline.panel.stages.fetch`: new or changed exports archived, and the
files to parse (pending ones again; every archived one in a rebuild)."""

from __future__ import annotations

import gzip

import pytest

from pipeline.panel.stages.fetch import fetch_exports, is_export
from tests.exports import export_bytes, response

CLOCK = "2021-06-02T12:00:00Z"  # 05:00 PDT: 06-01 is closed


@pytest.mark.parametrize(
    ("path", "wanted"),
    [("e.csv", True), ("sub/E.CSV", True), ("e.csv.gz", True), ("e.CSV.GZ", True),
     ("e.csv.bak", False), ("e.txt", False), ("e.gz", False), ("csv", False)],
)  # fmt: skip
def test_is_export(path, wanted):
    assert is_export(path) is wanted


def test_new_exports_are_archived_and_queued_other_files_ignored(panel):
    a = panel.export("a.csv", [response("R1", "t1", "2021-06-01 09:00:00")])
    b = panel.drop / "b.csv.gz"
    b.write_bytes(gzip.compress(export_bytes([response("R2", "t2", "2021-06-01 10:00:00")])))
    (panel.drop / "notes.txt").write_text("not an export")
    ctx = panel.context(CLOCK)
    res = fetch_exports(ctx)
    assert res.listed == 2 and res.duplicates == 0
    assert sorted(path for _sha, path in res.to_parse) == ["a.csv", "b.csv.gz"]
    for sha, path in res.to_parse:  # the raw bytes (still gzipped) are in the archive
        assert ctx.archive.get(sha) == (panel.drop / path).read_bytes()
    assert {f.path: f.kind for f in res.files} == {"a.csv": "export", "b.csv.gz": "export"}
    assert res.bytes_fetched == a.stat().st_size + b.stat().st_size
    assert res.base_seq == ctx.base_seq == 0
    assert panel.store.last_seq() == 0  # a stage never writes the state


def test_the_same_bytes_under_two_names_are_parsed_once(panel):
    first = panel.export("a.csv", [response("R1", "t1", "2021-06-01 09:00:00")])
    (panel.drop / "copy.csv").write_bytes(first.read_bytes())
    res = fetch_exports(panel.context(CLOCK))
    assert len(res.to_parse) == 1 and res.duplicates == 1
    assert sorted(f.status for f in res.files) == ["applied", "duplicate"]


def test_new_files_only_are_fetched(panel):
    panel.export("a.csv", [response("R1", "t1", "2021-06-01 09:00:00")])
    res = fetch_exports(panel.context(CLOCK))
    assert [path for _sha, path in res.to_parse] == ["a.csv"]
    panel.night(CLOCK)  # a.csv applied and committed
    res = fetch_exports(panel.context(CLOCK))
    assert res.to_parse == () and res.listed == 1


def test_a_changed_file_is_fetched_again_a_known_one_not(panel):
    panel.export("a.csv", [response("R1", "t1", "2021-06-01 09:00:00")])
    panel.night(CLOCK)
    assert fetch_exports(panel.context(CLOCK)).to_parse == ()
    panel.export("a.csv", [response("R1", "t1", "2021-06-01 09:00:00"),
                           response("R2", "t2", "2021-06-01 10:00:00")])  # fmt: skip
    res = fetch_exports(panel.context("2021-06-02T13:00:00Z"))
    assert [path for _sha, path in res.to_parse] == ["a.csv"]


def test_a_file_with_rows_after_the_clock_is_parsed_again_next_night(panel):
    # recorded 06-02 07:00 PDT, after the first run's clock (05:00 PDT)
    panel.export("a.csv", [response("R1", "t1", "2021-06-01 09:00:00"),
                           response("R2", "t2", "2021-06-01 10:00:00", "2021-06-02 07:00:00")])  # fmt: skip
    panel.night(CLOCK)
    assert [f["path"] for f in panel.store.pending_files("export")] == ["a.csv"]
    res = fetch_exports(panel.context("2021-06-03T12:00:00Z"))
    assert res.listed == 1 and res.files[0].path == "a.csv"
    assert [path for _sha, path in res.to_parse] == ["a.csv"]  # nothing new, parsed again


def test_a_rebuild_reads_the_archive_alone(panel):
    panel.export("a.csv", [response("R1", "t1", "2021-06-01 09:00:00")])
    panel.night(CLOCK)
    panel.export("b.csv", [response("R2", "t2", "2021-06-01 10:00:00")])  # not yet fetched
    ctx = panel.context("2021-06-03T12:00:00Z", rebuild=True)
    res = fetch_exports(ctx, rebuild=True)
    assert res.listed == 0 and res.bytes_fetched == 0  # the source is not read
    assert [path for _sha, path in res.to_parse] == ["a.csv"]  # every archived export
    # a nightly run asked to rebuild (settings changed) reads the source too
    res = fetch_exports(panel.context("2021-06-03T12:00:00Z"), rebuild=True)
    assert sorted(path for _sha, path in res.to_parse) == ["a.csv", "b.csv"]
