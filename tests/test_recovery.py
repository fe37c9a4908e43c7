"""pipeline.recovery.PublishJournal: a run that died publishing leaves the names it wrote in
its journal; the next run sweeps temp names, learns which of those names the state never
recorded, and clears the journals once it has committed (SPEC §6). A real local folder and
a real SQLite state throughout."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import checksums
from pipeline.config import Config
from pipeline.context import RunContext
from pipeline.locations import is_temp_name
from pipeline.locations.local import LocalLocation
from pipeline.publishing import Publisher, PublishResult
from pipeline.recovery import PublishJournal
from pipeline.state.store import StateStore

AS_OF = datetime(2021, 6, 2, 12, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.dispose()


def _ctx(tmp_path: Path, store: StateStore, run_id: str) -> RunContext:
    cfg = Config(state=store.url, archive=str(tmp_path / "archive"), publish=str(tmp_path / "pub"))
    return RunContext(cfg, AS_OF, store, run_id=run_id)


def _commit_files(tmp_path: Path, store: StateStore, loc: LocalLocation, run_id: str,
                  files: dict[str, bytes]) -> None:  # fmt: skip
    """A run that publishes ``files`` (with OUTAGES.txt, its manifest and SHA256SUMS) and
    commits (the journal cleared)."""
    ctx = _ctx(tmp_path, store, run_id)
    changes = ctx.new_changes(store.last_seq())
    pub = Publisher(ctx, loc, changes, PublishResult(), recover=True)
    for name, data in files.items():
        pub.write(name, data, "codebook")
    pub.finish([], lambda: b"{}\n")
    store.commit(changes)
    pub.complete()


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_no_journal_nothing_to_recover(tmp_path, store):
    loc = LocalLocation(tmp_path / "pub")
    loc.write_atomic("kept.csv", b"x")
    (loc.root / ".kept.csv.link.tmp").write_bytes(b"x")
    journal = PublishJournal(tmp_path / "work", loc.url, "run-2")
    assert journal.recover(loc, store.published) == set()
    assert journal.leftovers == set()
    # without a journal no run died publishing: the folder is left as it is
    assert _files(loc.root) == {"kept.csv": b"x", ".kept.csv.link.tmp": b"x"}


def test_note_writes_through_one_name_a_line(tmp_path):
    journal = PublishJournal(tmp_path / "work", "/srv/publish", "run-1")
    journal.note("a.csv")
    assert journal.path.read_text() == "a.csv\n"  # on disk at once, before the write
    journal.note("runs/2021_06_02_run-1.json")
    assert journal.path.read_text().splitlines() == ["a.csv", "runs/2021_06_02_run-1.json"]
    assert journal.path.parent == journal.folder and journal.path.name == "run-1.names"
    assert journal.folder.parent == tmp_path / "work" / "publishing"
    # one folder per publish location
    assert PublishJournal(tmp_path / "work", "/srv/other", "run-1").folder != journal.folder
    assert PublishJournal(tmp_path / "work", "/srv/publish", "run-9").folder == journal.folder


def test_recover_sweeps_temp_names_and_returns_names_the_state_never_recorded(tmp_path, store):
    loc = LocalLocation(tmp_path / "pub")
    _commit_files(tmp_path, store, loc, "run-1", {"kept.csv": b"recorded bytes\n"})
    # run-2 dies publishing: three names journaled, one finished, one in flight
    dead = PublishJournal(tmp_path / "archive" / "_work", loc.url, "run-2")
    for name in ("kept.csv", "orphan.csv", "runs/2021_06_02_run-2.json"):
        dead.note(name)
    loc.write_atomic("orphan.csv", b"never committed\n")
    (loc.root / "runs").mkdir(exist_ok=True)
    (loc.root / "runs" / ".2021_06_02_run-2.json.0123456789ab.tmp").write_bytes(b"{")
    (loc.root / ".kept.csv.link.tmp").write_bytes(b"half")
    assert sum(is_temp_name(p.name) for p in loc.root.rglob("*")) == 2

    journal = PublishJournal(tmp_path / "archive" / "_work", loc.url, "run-3")
    orphans = journal.recover(loc, store.published)
    assert orphans == {"orphan.csv", "runs/2021_06_02_run-2.json"}
    assert journal.leftovers == {"kept.csv", "orphan.csv", "runs/2021_06_02_run-2.json"}
    assert not [p for p in loc.root.rglob("*") if is_temp_name(p.name)]
    # recover itself removes no final name: that waits for the new SHA256SUMS
    files = _files(loc.root)
    assert files["kept.csv"] == b"recorded bytes\n"
    assert files["orphan.csv"] == b"never committed\n"
    assert dead.path.exists()


def test_committed_clears_its_journal_and_the_ones_it_recovered(tmp_path, store):
    loc = LocalLocation(tmp_path / "pub")
    work = tmp_path / "work"
    for run in ("run-1", "run-2"):  # two runs died in a row
        PublishJournal(work, loc.url, run).note(f"{run}.csv")
    journal = PublishJournal(work, loc.url, "run-3")
    assert journal.recover(loc, store.published) == {"run-1.csv", "run-2.csv"}
    journal.note("run-3.csv")
    assert sorted(p.name for p in journal.folder.iterdir()) == [
        "run-1.names", "run-2.names", "run-3.names",
    ]  # fmt: skip
    journal.committed()
    assert list(journal.folder.iterdir()) == []
    journal.committed()  # twice is harmless


def test_committed_without_recover_keeps_the_dead_runs_journal(tmp_path):
    """A run that does not recover (a backfill partition) leaves another run's journal to
    the next nightly run."""
    loc = LocalLocation(tmp_path / "pub")
    dead = PublishJournal(tmp_path / "work", loc.url, "dead")
    dead.note("x.csv")
    own = PublishJournal(tmp_path / "work", loc.url, "partition")
    own.note("y.csv")
    own.committed()
    assert dead.path.exists() and not own.path.exists()


def test_next_run_converges_after_a_run_died_publishing(tmp_path, store):
    """Run 1 commits; run 2 rewrites a recorded file, writes new ones and its manifest,
    then dies before its commit; run 3 recovers: recorded names hold the recorded bytes
    again, run 2's other names are gone, SHA256SUMS checks, and no journal is left."""
    loc = LocalLocation(tmp_path / "pub")
    _commit_files(tmp_path, store, loc, "run-1", {"codebook.csv": b"v1\n", "old.csv": b"old\n"})

    ctx2 = _ctx(tmp_path, store, "run-2")
    pub2 = Publisher(ctx2, loc, ctx2.new_changes(store.last_seq()), PublishResult(), recover=True)
    pub2.write("codebook.csv", b"v2 from a run that never committed\n", "codebook")
    pub2.write("new.csv", b"new\n", "codebook")
    pub2.finish([], lambda: b"{}\n")
    (loc.root / ".late.csv.0123456789ab.tmp").write_bytes(b"cut off")  # killed mid-write
    # ... killed here: no commit, no journal.committed()

    ctx3 = _ctx(tmp_path, store, "run-3")
    changes = ctx3.new_changes(store.last_seq())
    pub3 = Publisher(ctx3, loc, changes, PublishResult(), recover=True)
    assert pub3.orphans == {"new.csv", "runs/2021_06_02_run-2.json"}
    # the state says codebook.csv holds these bytes, but run 2 replaced them: rewritten
    assert pub3.write("codebook.csv", b"v1\n", "codebook")
    assert not pub3.write("old.csv", b"old\n", "codebook")  # untouched by run 2
    pub3.finish([], lambda: b"{}\n")
    store.commit(changes)
    pub3.complete()

    files = _files(loc.root)
    assert set(files) == {"codebook.csv", "old.csv", "OUTAGES.txt", "SHA256SUMS",
                          "runs/2021_06_02_run-1.json", "runs/2021_06_02_run-3.json",
                          "runs/SHA256SUMS"}  # fmt: skip
    assert files["codebook.csv"] == b"v1\n"
    sums = checksums.read(loc)
    assert set(sums) == {n for n in files if not checksums.is_sums(n)}
    for name, sha in sums.items():
        assert hashlib.sha256(files[name]).hexdigest() == sha
    for folder in (loc.root, loc.root / "runs"):
        check = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=folder,
                               capture_output=True, text=True)  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
    assert list(pub3.journal.folder.iterdir()) == []
