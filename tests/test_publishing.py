"""The Publisher (pipeline/publishing.py): files written in background threads to a local
folder, SHA256SUMS only after every one of them, and a failed write failing the run."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.context import RunContext
from pipeline.locations.local import LocalLocation
from pipeline.publishing import Publisher, PublishResult
from pipeline.state.store import RunChanges, StateStore
from tests.study import Study


class SlowFolder(LocalLocation):
    """A local folder whose writes of ``slow`` files take that many seconds, and that
    refuses to write ``broken`` (fault injection around the real folder)."""

    def __init__(self, root: Path, slow: dict[str, float], broken: str | None = None) -> None:
        super().__init__(root)
        self.slow, self.broken = slow, broken
        self.threads: set[str] = set()
        self.seen_at_sums: set[str] | None = None

    def write_atomic(self, path: str, data: bytes) -> None:
        self.threads.add(threading.current_thread().name)
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
    changes = RunChanges(
        run_id=ctx.run_id,
        as_of=ctx.as_of.isoformat(),
        recorded=ctx.recorded.isoformat(),
        base_seq=0,
    )
    return Publisher(ctx, loc, changes, PublishResult()), store


def test_files_are_written_in_the_background_and_summed_after_all_of_them(tmp_path):
    files = {f"day_{i}.csv": f"rows {i}\n".encode() * 1000 for i in range(6)}
    # the last file is still being written when the run reaches SHA256SUMS
    loc = SlowFolder(tmp_path / "publish", slow={"day_4.csv": 0.1, "day_5.csv": 0.6})
    pub, store = _publisher(tmp_path, loc)
    try:
        with pub:
            for name, data in files.items():
                assert pub.write(name, data, "daily")
            pub.finish([], lambda: b"{}")
    finally:
        store.dispose()
    assert any(t.startswith("publish") for t in loc.threads)  # not the calling thread
    assert loc.seen_at_sums is not None and set(files) <= loc.seen_at_sums
    sums = dict(
        reversed(line.split("  ")) for line in (loc.root / "SHA256SUMS").read_text().splitlines()
    )
    for name, data in files.items():
        assert (loc.root / name).read_bytes() == data
        assert sums[name] == hashlib.sha256(data).hexdigest()


def test_a_failed_background_write_fails_the_run_before_sha256sums(tmp_path):
    files = {f"day_{i}.csv": f"rows {i}\n".encode() for i in range(6)}
    loc = SlowFolder(tmp_path / "publish", slow={"day_0.csv": 0.2}, broken="day_1.csv")
    pub, store = _publisher(tmp_path, loc)
    try:
        with pytest.raises(OSError, match="No space left"):
            with pub:
                for name, data in files.items():
                    pub.write(name, data, "daily")
                pub.finish([], lambda: b"{}")
    finally:
        store.dispose()
    assert not (loc.root / "SHA256SUMS").exists()
    assert (loc.root / "day_0.csv").read_bytes() == files["day_0.csv"]  # finished, not cut
    assert not [p for p in loc.root.iterdir() if p.name.startswith(".")]  # no temp file left


def test_a_failed_write_fails_the_block_without_finish(tmp_path):
    """A run that publishes files but no SHA256SUMS (a rebuild that changed nothing does
    not call finish) still fails on a file that could not be written."""
    loc = SlowFolder(tmp_path / "publish", slow={}, broken="codebook.csv")
    pub, store = _publisher(tmp_path, loc)
    try:
        with pytest.raises(OSError, match="No space left"):
            with pub:
                pub.write("codebook.csv", b"name\n", "codebook")
    finally:
        store.dispose()
