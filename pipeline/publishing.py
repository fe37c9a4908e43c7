"""Publishing (panel and session studies alike): files written atomically to the publish
location (linked when unchanged), recorded for the run's commit, and every run ending with
OUTAGES.txt, its manifest ``runs/{recorded}_{run_id}.json`` and SHA256SUMS (SPEC §3.6).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline import outages
from pipeline.clock import fmt
from pipeline.context import RunContext
from pipeline.fetching import InputFile
from pipeline.locations import Location
from pipeline.provenance import code_version
from pipeline.recovery import PublishJournal
from pipeline.state.store import RunChanges


@dataclass(frozen=True)
class DayFile:
    """A day file a run published or re-issued."""

    name: str
    sha256: str
    rows: int
    recorded: str


@dataclass
class PublishResult:
    """What a run published."""

    written: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reissued_days: list[str] = field(default_factory=list)
    rerendered_days: list[str] = field(default_factory=list)  # re-issued: settings changed
    first_published: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    held_days: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0
    rows_published: int = 0
    rows_withheld: int = 0
    days_published: int = 0
    outages_added: int = 0
    manifest: str = ""
    daily_counts: dict[str, int] = field(default_factory=dict)
    day_files: dict[str, DayFile] = field(default_factory=dict)  # day -> file written/linked


class Publisher:
    """Writes files to the publish location (each atomically) and records them for the
    commit. Usable as a ``with`` block (nothing to release; kept for the callers' shape)."""

    def __init__(
        self,
        ctx: RunContext,
        loc: Location,
        changes: RunChanges,
        res: PublishResult,
        daily_names: Iterable[str] = (),
        recover: bool = False,
    ):
        """``daily_names``: the daily versions this run may look up (each day's previous
        version and its name for today); other kinds of files are always loaded.
        ``recover``: clean up after runs that died publishing (nightly runs only, they
        hold the exclusive run lock; see :mod:`pipeline.recovery`)."""
        self.ctx, self.loc, self.changes, self.res = ctx, loc, changes, res
        self.current = ctx.store.published(daily_names)
        self.sums: dict[str, str | None] = {}  # this run's changes to SHA256SUMS
        self.journal = PublishJournal(ctx.work, loc.url, ctx.run_id)
        self.orphans = self.journal.recover(loc, ctx.store.published) if recover else set()
        self.removals: list[str] = []  # removed once SHA256SUMS no longer lists them

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _record(self, name: str, kind: str, sha: str, size: int, day: str | None) -> None:
        row = {
            "name": name, "kind": kind, "sha256": sha, "size": size, "day": day,
            "recorded": self.ctx.recorded.isoformat(), "run_id": self.ctx.run_id, "removed": False,
        }  # fmt: skip
        self.current[name] = row
        self.sums[name] = sha
        self.changes.published.append(row)

    def write(self, name: str, data: bytes, kind: str, day: str | None = None) -> bool:
        """Upload ``data`` unless the same bytes are already published under ``name``."""
        sha = hashlib.sha256(data).hexdigest()
        same = self.current.get(name, {}).get("sha256") == sha
        if same and name not in self.journal.leftovers and self.loc.stat(name) is not None:
            return False
        self.journal.note(name)
        self.loc.write_atomic(name, data)
        self.res.written.append(name)
        self.res.bytes_uploaded += len(data)
        self._record(name, kind, sha, len(data), day)
        return True

    def link(self, src: str, dst: str, kind: str, day: str, data: Callable[[], bytes]) -> None:
        """Publish ``dst`` with the bytes of ``src`` without re-sending them where possible.

        When ``src`` has gone from the server (removed by hand), the bytes from the local
        cache (``data``) are uploaded instead.
        """
        prev = self.current.get(src)
        try:
            if prev is None:
                raise FileNotFoundError(src)
            self.journal.note(dst)
            how = self.loc.link_or_copy(src, dst)
        except FileNotFoundError:
            self.write(dst, data(), kind, day)
            return
        if how == "upload":
            self.res.bytes_uploaded += int(prev["size"])
        self.res.linked.append(dst)
        self._record(dst, kind, prev["sha256"], int(prev["size"]), day)

    def finish(self, new_entries: list[dict[str, Any]], manifest: Callable[[], bytes]) -> None:
        """The files every run ends with: OUTAGES.txt (new entries on top), the run manifest
        ``runs/{recorded}_{run_id}.json`` and SHA256SUMS of everything published."""
        entries = list(reversed(new_entries)) + self.ctx.store.outages()
        self.res.outages_added = len(new_entries)
        self.write("OUTAGES.txt", outages.render(entries), "outages")
        self.res.manifest = f"runs/{fmt(self.ctx.recorded)}_{self.ctx.run_id}.json"
        self.write(self.res.manifest, manifest(), "run")
        sums = self.ctx.store.checksums()
        sums.update(self.sums)
        self.write("SHA256SUMS", sha256sums(sums), "sums")
        # Only now that SHA256SUMS no longer lists them: it never names a missing file.
        for name in [*self.removals, *sorted(self.orphans - set(self.sums))]:
            self.loc.remove(name)

    def remove(self, name: str) -> None:
        """Withdraw ``name``; the file goes in :meth:`finish`, after SHA256SUMS."""
        self.removals.append(name)
        self.current.pop(name, None)
        self.sums[name] = None
        self.res.removed.append(name)
        self.changes.removed.append(name)


def sha256sums(checksums: dict[str, str | None]) -> bytes:
    """``sha256sum -c`` input for every published file (but itself), sorted by name;
    ``checksums`` maps names to SHA-256 (None: removed)."""
    return "".join(
        f"{sha}  {name}\n" for name, sha in sorted(checksums.items())
        if sha is not None and name != "SHA256SUMS"
    ).encode()  # fmt: skip


def manifest(ctx: RunContext, inputs: Iterable[InputFile], facts: dict[str, Any]) -> bytes:
    """A run manifest (``runs/{recorded}_{run_id}.json``): the run's clock, the code
    version, every input file with its SHA-256 and what became of it, and ``facts``
    (counts by exclusion reason, files published, ...)."""
    doc = {
        "run_id": ctx.run_id,
        "as_of": ctx.as_of.isoformat(),
        "recorded": ctx.recorded.isoformat(),
        "code_version": code_version(),
        "inputs": [
            {"path": f.path, "sha256": f.sha256, "size": f.size, "status": f.status} for f in inputs
        ],
        **facts,
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
