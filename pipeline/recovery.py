"""Recovery of a publish folder after a run that died while publishing (SPEC §6).

Files reach the publish location atomically (temp name, then rename) before the run
commits its state, so a run killed while publishing leaves files the state does not know
about: temp names of writes in flight, and final names (its run manifest, say) of a run
that never committed. To clean up after it, every run appends each name to a journal
*before* writing it: ``{work}/publishing/{location}/{run_id}.names`` (one name per line,
written through at once, so it survives a killed process). The journal is removed once the run has
committed. A journal still there when the next nightly run starts publishing belongs to
a run that did not commit, and that nightly run (which holds the exclusive run lock, so
no other run is publishing):

* removes the temp names left anywhere in the publish location
  (:meth:`pipeline.locations.base.Location.remove_temp_files`);
* rewrites a journaled name even when the state says it holds the right bytes (the dead
  run may have replaced them);
* once its own SHA256SUMS is in place, removes the journaled names that neither the state
  nor this run published, so the folder ends as an uninterrupted run leaves it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from pipeline.locations import Location

log = logging.getLogger(__name__)


class PublishJournal:
    """The journal of one run's writes to one publish location."""

    def __init__(self, work: Path, url: str, run_id: str) -> None:
        self.folder = work / "publishing" / hashlib.sha256(url.encode()).hexdigest()[:16]
        self.path = self.folder / f"{run_id}.names"
        self._recovered: list[Path] = []
        self.leftovers: set[str] = set()  # names written by runs that did not commit

    def recover(
        self, loc: Location, committed: Callable[[Iterable[str]], Iterable[str]]
    ) -> set[str]:
        """After runs that did not commit: sweep temp names and return the names they
        wrote that are not published per the state (``committed(names)`` gives those
        that are). Only for a run that holds the exclusive run lock."""
        journals = sorted(self.folder.glob("*.names"))
        if not journals:
            return set()
        names: set[str] = set()
        for journal in journals:
            names.update(n for n in journal.read_text(encoding="utf-8").splitlines() if n)
        self._recovered = [j for j in journals if j != self.path]
        self.leftovers = names
        swept = loc.remove_temp_files()
        if swept or names:
            log.warning(
                "%s: a run did not finish publishing; removed %d temp name(s)", loc.url, len(swept)
            )
        return names - set(committed(names))

    def note(self, name: str) -> None:
        """Record ``name`` before it is written."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(name + "\n")

    def committed(self) -> None:
        """The run committed: drop its journal and the journals it recovered from."""
        for journal in [self.path, *self._recovered]:
            journal.unlink(missing_ok=True)
