"""The Publisher (pipeline/publishing.py): files written atomically, SHA256SUMS after every
one of them, a failed write failing the run, and the run manifest."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import __version__, outages
from pipeline.config import Config, load_config
from pipeline.context import RunContext
from pipeline.fetching import InputFile
from pipeline.locations.local import LocalLocation
from pipeline.publishing import (
    PublishedHistoryError,
    Publisher,
    PublishResult,
    manifest,
)
from pipeline.state.store import StateStore
from tests.study import Study


class SlowFolder(LocalLocation):
    """A local folder whose writes of ``slow`` files take that many seconds, and that
    refuses to write ``broken`` (fault injection around the real folder)."""

    def __init__(self, root: Path, slow: dict[str, float], broken: str | None = None) -> None:
        super().__init__(root)
        self.slow, self.broken = slow, broken
        self.seen_at_sums: set[str] | None = None

    def write_atomic(self, path: str, data: bytes) -> None:
        if path == self.broken:
            raise OSError(28, "No space left on device")
        time.sleep(self.slow.get(path, 0))
        if path == "SHA256SUMS":
            self.seen_at_sums = {p.name for p in self.root.iterdir() if not p.name.startswith(".")}
        super().write_atomic(path, data)


def _publisher(tmp_path: Path, loc: LocalLocation) -> tuple[Publisher, StateStore]:
    study = Study(tmp_path)
    cfg = load_config(study.config)
    store = StateStore(cfg.state)
    ctx = RunContext(cfg, datetime(2021, 6, 2, 12, tzinfo=UTC), store, base_seq=0)
    return Publisher(ctx, loc, ctx.new_changes(0), PublishResult()), store


def test_sha256sums_is_written_after_every_file_and_lists_them(tmp_path):
    files = {f"day_{i}.csv": f"rows {i}\n".encode() * 1000 for i in range(6)}
    loc = SlowFolder(tmp_path / "publish", slow={"day_4.csv": 0.1, "day_5.csv": 0.2})
    pub, store = _publisher(tmp_path, loc)
    try:
        for name, data in files.items():
            assert pub.write(name, data, "daily")
        pub.finish([], lambda: b"{}")
    finally:
        store.dispose()
    assert loc.seen_at_sums is not None and set(files) <= loc.seen_at_sums
    sums = dict(
        reversed(line.split("  ")) for line in (loc.root / "SHA256SUMS").read_text().splitlines()
    )
    for name, data in files.items():
        assert (loc.root / name).read_bytes() == data
        assert sums[name] == hashlib.sha256(data).hexdigest()


def test_a_failed_write_is_rolled_back_to_what_the_state_has(tmp_path):
    """A write fails half-way through a run: the names it added go, and SHA256SUMS lists
    what the (unchanged) state has: here, nothing."""
    files = {f"day_{i}.csv": f"rows {i}\n".encode() for i in range(6)}
    loc = SlowFolder(tmp_path / "publish", slow={}, broken="day_1.csv")
    pub, store = _publisher(tmp_path, loc)
    try:
        with pytest.raises(OSError, match="No space left"):
            try:
                for name, data in files.items():
                    pub.write(name, data, "daily")
                pub.finish([], lambda: b"{}")
            except OSError:
                pub.roll_back()
                raise
    finally:
        store.dispose()
    assert not (loc.root / "day_0.csv").exists()  # written, then rolled back
    assert not (loc.root / "SHA256SUMS").exists()  # the state had nothing published
    assert not [p for p in loc.root.iterdir() if p.name.startswith(".")]  # no temp file left


def test_a_failed_write_raises_at_once(tmp_path):
    """A file that could not be written fails the run (no later write hides it)."""
    loc = SlowFolder(tmp_path / "publish", slow={}, broken="codebook.csv")
    pub, store = _publisher(tmp_path, loc)
    try:
        with pytest.raises(OSError, match="No space left"):
            pub.write("codebook.csv", b"name\n", "codebook")
    finally:
        store.dispose()
    assert not (loc.root / "codebook.csv").exists()


# --- manifest(), write() of unchanged bytes, finish() ---------------------------------------

LA = "America/Los_Angeles"


@pytest.fixture
def store(tmp_path):
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.dispose()


def _ctx(tmp_path: Path, store: StateStore, as_of: str, run_id: str) -> RunContext:
    cfg = Config(state=store.url, archive=str(tmp_path / "archive"), publish=str(tmp_path / "pub"))
    return RunContext(cfg, datetime.fromisoformat(as_of), store, run_id=run_id)


def _input(path: str, data: bytes, status: str, error: str | None = None) -> InputFile:
    return InputFile(
        source="/drop", path=path, size=len(data), mtime=1622600000.0,
        sha256=hashlib.sha256(data).hexdigest(), kind="export", status=status, error=error,
    )  # fmt: skip


def _sha256sum_c(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=folder, capture_output=True, text=True
    )


def test_manifest_lists_clock_code_inputs_and_facts_as_sorted_json(tmp_path, store):
    ctx = _ctx(tmp_path, store, "2021-06-02T05:00:00+00:00", "run-m")
    inputs = [
        _input("export_b.csv", b"b", "applied"),
        _input("export_a.csv", b"a", "quarantined", "export_a.csv, line 2: bad"),
        _input("copy_of_b.csv", b"b", "duplicate"),
    ]
    facts = {"excluded": {"no_token": 2}, "published": ["x.csv"]}
    data = manifest(ctx, inputs, facts)
    doc = json.loads(data)
    assert set(doc) == {"run_id", "as_of", "recorded", "code_version", "inputs", "excluded",
                        "published"}  # fmt: skip
    assert doc["run_id"] == "run-m"
    assert doc["as_of"] == "2021-06-02T05:00:00+00:00"
    assert doc["recorded"] == "2021-06-01"  # 22:00 PDT
    assert doc["code_version"].startswith(__version__)
    assert doc["inputs"] == [  # in the order given, each with its SHA-256 and status
        {"path": "export_b.csv", "sha256": hashlib.sha256(b"b").hexdigest(), "size": 1,
         "status": "applied"},
        {"path": "export_a.csv", "sha256": hashlib.sha256(b"a").hexdigest(), "size": 1,
         "status": "quarantined"},
        {"path": "copy_of_b.csv", "sha256": hashlib.sha256(b"b").hexdigest(), "size": 1,
         "status": "duplicate"},
    ]  # fmt: skip
    assert doc["excluded"] == {"no_token": 2} and doc["published"] == ["x.csv"]
    assert data == (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    top = [line[3:].split('"')[0] for line in data.decode().splitlines() if line.startswith('  "')]
    assert top == sorted(top) and len(top) == 7
    assert manifest(ctx, inputs, facts) == data  # the same run, the same bytes
    assert json.loads(manifest(ctx, [], {}))["inputs"] == []


def test_write_does_not_resend_identical_bytes(tmp_path, store):
    loc = LocalLocation(tmp_path / "pub")
    ctx = _ctx(tmp_path, store, "2021-06-02T12:00:00+00:00", "run-1")
    changes, res = ctx.new_changes(store.last_seq()), PublishResult()
    pub = Publisher(ctx, loc, changes, res)
    assert pub.write("day.csv", b"rows\n", "daily", "2021-06-01")
    first = (loc.root / "day.csv").stat()
    assert not pub.write("day.csv", b"rows\n", "daily", "2021-06-01")
    assert res.written == ["day.csv"] and res.bytes_uploaded == 5
    assert len(changes.published) == 1
    store.commit(changes)
    pub.complete()

    # the next run knows the file from the state: not sent again
    ctx2 = _ctx(tmp_path, store, "2021-06-03T12:00:00+00:00", "run-2")
    changes2, res2 = ctx2.new_changes(store.last_seq()), PublishResult()
    pub2 = Publisher(ctx2, loc, changes2, res2, daily_names=["day.csv"], recover=True)
    assert not pub2.write("day.csv", b"rows\n", "daily", "2021-06-01")
    again = (loc.root / "day.csv").stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert res2.written == [] and res2.bytes_uploaded == 0 and changes2.published == []
    # a daily name is history: other bytes under it are refused, the file stays as it was
    with pytest.raises(PublishedHistoryError, match="published already with other bytes"):
        pub2.write("day.csv", b"rows\nmore\n", "daily", "2021-06-01")
    assert (loc.root / "day.csv").read_bytes() == b"rows\n"
    # a current file's changed bytes are sent; so are the same bytes when it went missing
    assert pub2.write("other.csv", b"o", "codebook")
    assert pub2.write("other.csv", b"o2", "codebook")
    (loc.root / "other.csv").unlink()
    assert pub2.write("other.csv", b"o2", "codebook")
    assert (loc.root / "other.csv").read_bytes() == b"o2"
    assert res2.written == ["other.csv", "other.csv", "other.csv"]


def test_finish_writes_outages_manifest_and_sums_that_sha256sum_accepts(tmp_path, store):
    loc = LocalLocation(tmp_path / "pub")
    at = datetime(2021, 6, 2, 12, tzinfo=UTC)
    store.add_outage(outages.entry("NOTICE", "an operator note", at=at, timezone=LA))
    ctx = _ctx(tmp_path, store, "2021-06-02T12:00:00+00:00", "run-1")
    changes, res = ctx.new_changes(store.last_seq()), PublishResult()
    pub = Publisher(ctx, loc, changes, res, recover=True)
    pub.write("cvid_responses_2021_06_01_recordedby_2021_06_02.csv", b"a,b\n1,2\n", "daily")
    pub.write("cumulative/all.csv.gz", b"\x1f\x8b gz", "cumulative")
    new = [
        outages.entry("DELAY", "first of this run", ["2021-06-01"], at=at, timezone=LA),
        outages.entry("NOTICE", "second of this run", at=at, timezone=LA),
    ]
    pub.finish(new, lambda: b'{"run": 1}\n')
    changes.outages = new
    store.commit(changes)
    pub.complete()

    assert res.manifest == "runs/2021_06_02_run-1.json" and res.outages_added == 2
    assert (loc.root / res.manifest).read_bytes() == b'{"run": 1}\n'
    text = (loc.root / "OUTAGES.txt").read_text()
    assert text.startswith(outages.HEADER)
    # new entries on top, the newest (last made) first, the stored ones below
    assert text.index("second of this run") < text.index("first of this run")
    assert text.index("first of this run") < text.index("an operator note")
    assert text.encode() == outages.render(store.outages())  # as the state has them now
    sums = (loc.root / "SHA256SUMS").read_text()
    listed = [line.split("  ", 1)[1] for line in sums.splitlines()]
    # one SHA256SUMS a folder: the root's lists the root's files only
    assert listed == ["OUTAGES.txt", "cvid_responses_2021_06_01_recordedby_2021_06_02.csv"]
    for folder, names in [("", 2), ("cumulative", 1), ("runs", 1)]:
        check = _sha256sum_c(loc.root / folder)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.count(": OK") == names
    assert (loc.root / "runs/SHA256SUMS").read_text().endswith("  2021_06_02_run-1.json\n")

    # the next run: files of both runs summed, a withdrawn file gone and not listed
    ctx2 = _ctx(tmp_path, store, "2021-06-03T12:00:00+00:00", "run-2")
    changes2, res2 = ctx2.new_changes(store.last_seq()), PublishResult()
    pub2 = Publisher(ctx2, loc, changes2, res2, recover=True)
    pub2.write("cvid_responses_2021_06_02_recordedby_2021_06_03.csv", b"a,b\n3,4\n", "daily")
    pub2.remove("cumulative/all.csv.gz")
    assert (loc.root / "cumulative/all.csv.gz").exists()  # until the run has committed
    pub2.finish([], lambda: b'{"run": 2}\n')
    store.commit(changes2)
    assert (loc.root / "cumulative/all.csv.gz").exists()
    pub2.complete()
    assert not (loc.root / "cumulative/all.csv.gz").exists()
    # the folder has nothing left: its SHA256SUMS went with its last file
    assert not (loc.root / "cumulative/SHA256SUMS").exists()
    assert "OUTAGES.txt" not in res2.written  # no new entry: the same bytes, not re-sent
    runs = (loc.root / "runs/SHA256SUMS").read_text()
    assert "2021_06_03_run-2.json" in runs and "2021_06_02_run-1.json" in runs
    for folder, names in [("", 3), ("runs", 2)]:
        check = _sha256sum_c(loc.root / folder)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.count(": OK") == names
