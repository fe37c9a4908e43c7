"""Publishing (panel and session studies alike): files written atomically to the publish
location (linked when unchanged), recorded for the run's commit, and every run ending with
OUTAGES.txt, its manifest ``runs/{recorded}_{run_id}.json`` and SHA256SUMS (SPEC §3.6).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline import checksums, outages
from pipeline.clock import fmt
from pipeline.context import RunContext
from pipeline.fetching import InputFile
from pipeline.locations import Location
from pipeline.locations.base import Payload, payload_size
from pipeline.provenance import code_version
from pipeline.recovery import PublishJournal
from pipeline.state.store import RunChanges

log = logging.getLogger(__name__)

# Kinds of published files whose names are history: once out, a name keeps its bytes (daily
# files, run manifests, the Parquet copies, named by their content). The current files
# (OUTAGES.txt, SHA256SUMS, the codebook, the cumulative file and rollups, session study
# files) are rewritten under their names by design.
VERSIONED = frozenset({"daily", "run", "parquet"})


class PublishedHistoryError(RuntimeError):
    """A run would give a published versioned name other bytes."""


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
    recompressed_days: list[str] = field(default_factory=list)  # re-issued: gzip_daily turned
    first_published: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    held_days: list[str] = field(default_factory=list)
    # changed after today's version of the day was published: re-issued by the next run
    deferred_days: list[str] = field(default_factory=list)
    skipped_days: list[str] = field(default_factory=list)  # backfill: days never published
    bytes_uploaded: int = 0
    rows_published: int = 0  # rows in the day files published (written or linked)
    rows_written: int = 0  # of which in files written (new or changed content)
    rows_linked: int = 0  # of which in unchanged files re-issued by link
    rows_withheld: int = 0
    days_published: int = 0
    cells_untyped: int = 0  # cells of the Parquet copies written that did not parse
    outages_added: int = 0
    manifest: str = ""
    daily_counts: dict[str, int] = field(default_factory=dict)
    day_files: dict[str, DayFile] = field(default_factory=dict)  # day -> file written/linked


class Publisher:
    r"""Writes files to the publish location (each atomically) and records them for the
    commit. Used as a ``with`` block that ends with the run's commit: on the way out it
    :meth:`complete`\ s, or, when anything failed, :meth:`roll_back` puts the folder back
    to what the state says (a killed run leaves that to the next run's journal
    recovery, :mod:`pipeline.recovery`)."""

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
        # The state's SHA256SUMS and OUTAGES entries as the run found them (it holds the
        # study's lock: they do not change under it); a roll-back needs no database.
        self.checksums = ctx.store.checksums()
        self.outages = ctx.store.outages()

    def _record(self, name: str, kind: str, sha: str, size: int, day: str | None) -> None:
        row = {
            "name": name, "kind": kind, "sha256": sha, "size": size, "day": day,
            "recorded": self.ctx.recorded.isoformat(), "run_id": self.ctx.run_id, "removed": False,
        }  # fmt: skip
        self.current[name] = row
        self.sums[name] = sha
        self.changes.published.append(row)

    def write(self, name: str, data: bytes, kind: str, day: str | None = None) -> bool:
        """Upload ``data`` unless the same bytes are already published under ``name``.

        Versioned files (:data:`VERSIONED`: daily files, run manifests, Parquet copies)
        are history: a name published with other bytes is refused."""
        return self._send(name, data, hashlib.sha256(data).hexdigest(), kind, day)

    def write_parts(self, name: str, parts: Iterable[bytes], kind: str) -> bool:
        """:meth:`write` of the bytes ``parts`` make together, spooled to a file in the
        run's folder first (hashed on the way) and sent from it: memory holds one part, not
        the file (the cumulative file of 25 million responses is gigabytes)."""
        spool = self.ctx.run_dir / f"spool-{name.replace('/', '_')}"
        digest = hashlib.sha256()
        try:
            with spool.open("wb") as fh:
                for part in parts:
                    digest.update(part)
                    fh.write(part)
            return self._send(name, spool, digest.hexdigest(), kind, None)
        finally:
            spool.unlink(missing_ok=True)

    def _send(self, name: str, data: Payload, sha: str, kind: str, day: str | None) -> bool:
        published = self.current.get(name, {}).get("sha256")
        if kind in VERSIONED and published not in (None, sha):
            raise PublishedHistoryError(
                f"{self.loc.url}: {name} is published already with other bytes; published "
                "history is never rewritten"
            )
        same = published == sha
        if same and name not in self.journal.leftovers and self.loc.stat(name) is not None:
            return False
        self.journal.note(name)
        self.loc.write_atomic(name, data)
        size = payload_size(data)
        self.res.written.append(name)
        self.res.bytes_uploaded += size
        self._record(name, kind, sha, size, day)
        return True

    def link(
        self, src: str, dst: str, kind: str, day: str | None, data: Callable[[], bytes]
    ) -> None:
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
        entries = list(reversed(new_entries)) + self.outages
        self.res.outages_added = len(new_entries)
        self.write("OUTAGES.txt", outages.render(entries), "outages")
        self.res.manifest = f"runs/{fmt(self.ctx.recorded)}_{self.ctx.run_id}.json"
        self.write(self.res.manifest, manifest(), "run")
        for name, data in checksums.render({**self.checksums, **self.sums}).items():
            if data is not None:
                self.write(name, data, "sums")
            elif name in self.current:
                self.remove(name)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Leaving the block the run committed in: :meth:`complete` it, or :meth:`roll_back`
        when it raised (the error goes on)."""
        if exc_type is None:
            self.complete()
        else:
            self.roll_back()

    def complete(self) -> None:
        """After the run's commit: remove what SHA256SUMS no longer lists (withdrawn files,
        names a dead run left), and drop the journal."""
        for name in [*self.removals, *sorted(self.orphans - set(self.sums))]:
            self.loc.remove(name)
        self.journal.committed()

    def roll_back(self) -> None:
        """The run failed before its commit: put back OUTAGES.txt and the SHA256SUMS files
        it rewrote as the (unchanged) state has them, then remove the names it added, so
        the folder shows no publication the state does not know. The SHA256SUMS files the
        run did not reach never listed its new names, so ``sha256sum -c`` passes at every
        moment. A current file the run rewrote (the codebook, say) keeps its new bytes and
        is listed with them. Errors are logged, one file at a time: the journal stays for
        the next run to finish the job."""
        kept: dict[str, str | None] = {}
        added: list[str] = []
        for name, sha in self.sums.items():
            if sha is None or name == "OUTAGES.txt" or checksums.is_sums(name):
                continue
            if name in self.checksums:  # published when the run started
                kept[name] = sha
            else:
                added.append(name)
        state: dict[str, str | None] = {**self.checksums, **kept}
        restore: dict[str, bytes | None] = {}
        if "OUTAGES.txt" in self.sums:
            data = outages.render(self.outages) if state else None
            restore["OUTAGES.txt"] = data
            if data is not None:
                state["OUTAGES.txt"] = hashlib.sha256(data).hexdigest()
        listings = checksums.render(state) if state else {}
        restore.update({n: listings.get(n) for n in self.sums if checksums.is_sums(n)})
        if kept:  # the listings name the current files' new bytes
            restore.update(listings)
        for name, data in [*restore.items(), *((n, None) for n in added)]:
            try:
                if data is not None:
                    self.loc.write_atomic(name, data)
                elif self.loc.stat(name) is not None:
                    self.loc.remove(name)
            except Exception as exc:  # noqa: BLE001 - the run's own error is the one raised
                log.warning("%s: rolling back %s failed: %s", self.loc.url, name, exc)
        try:
            self.loc.remove_temp_files()
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: removing temp files failed: %s", self.loc.url, exc)

    def remove(self, name: str) -> None:
        """Withdraw ``name``; the file goes in :meth:`complete`, after the commit."""
        self.removals.append(name)
        self.current.pop(name, None)
        self.sums[name] = None
        self.res.removed.append(name)
        self.changes.removed.append(name)


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
