"""Listed input files a run does not read (SPEC §6: odd files never stop a night).

A wanted name the listing left out (hidden, a symlink leading outside, a FIFO, an unsafe
name) and a file whose reading fails on its own (permission denied, removed since the
listing, an I/O error) are skipped with a warning; :mod:`pipeline.fetching` turns each into
a NOTICE. Nothing about them is recorded as seen, so the next run tries them again. Names
are shown escaped (:func:`pipeline.limits.shown`): a newline in a name never splits a line.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable

from pipeline.limits import shown
from pipeline.locations import Location
from pipeline.locations.base import HIDDEN_NAME, UnsafePathError

log = logging.getLogger(__name__)

# Errors of reading one listed file that say nothing of the source as a whole. Others
# (a lost connection, retries exhausted) still fail the run.
UNREADABLE_ERRNOS = frozenset({
    errno.EACCES, errno.EPERM, errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EIO,
    errno.ELOOP, errno.ENXIO,
})  # fmt: skip


def listing_skips(loc: Location, wanted: Callable[[str], bool]) -> list[tuple[str, str]]:
    """(path, one-line reason) of each wanted name the last listing of ``loc`` left out.
    Hidden names are warned about here (the location warned about the others)."""
    out = []
    for path, reason in loc.skipped.items():
        if not wanted(path):
            continue
        if reason == HIDDEN_NAME:
            log.warning("%s: skipping %r: %s", loc.url, path, reason)
        out.append((path, f"{shown(path)}: {reason}: not read"))
    return out


def read_or_reason(loc: Location, path: str) -> tuple[bytes | None, str]:
    """``(bytes, "")``, or ``(None, one-line reason)`` with a warning when this file alone
    cannot be read; other errors are raised."""
    try:
        return loc.read_bytes(path), ""
    except UnsafePathError:  # made a link leading outside since the listing
        why = "leads outside the location"
    except OSError as exc:
        if exc.errno not in UNREADABLE_ERRNOS:
            raise
        why = exc.strerror or type(exc).__name__
    log.warning("%s: skipping %r: cannot be read (%s)", loc.url, path, why)
    return None, f"{shown(path)}: cannot be read ({why}); the next run tries it again"
