"""``python -m tests.crash_run POINT NTH run --config ...``: the command line in a process
that kills itself with SIGKILL the NTH time it reaches POINT while publishing.

A real ``kill -9`` of a real run, at a chosen step (crash-restart tests). Points, for local
and SFTP locations alike:

* ``link-tmp``: a re-issued day's temp link exists, not yet renamed over its final name;
* ``after-link``: a day was re-issued by ``link_or_copy`` (the run has not committed);
* ``mid-write:TEXT``: a file whose name contains TEXT is fully written under its temp
  name, not yet renamed;
* ``after-write:TEXT``: a file whose name contains TEXT is in place;
* ``after-remove``: a published file (the superseded cumulative file) was removed.
"""

from __future__ import annotations

import functools
import os
import posixpath
import signal
import sys
from collections.abc import Callable
from typing import Any

from pipeline.cli import main
from pipeline.locations.local import LocalLocation
from pipeline.locations.sftp import SftpLocation, transfer


def _killer(nth: int) -> Callable[[], None]:
    seen = [0]

    def reached() -> None:
        seen[0] += 1
        if seen[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    return reached


def _after(cls: Any, method: str, reached: Callable[[], None], match=lambda *a: True) -> None:
    original = getattr(cls, method)

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        if match(*args):
            reached()
        return out

    setattr(cls, method, wrapper)


def install(point: str, nth: int) -> None:
    """Patch the locations so that the process dies the ``nth`` time it reaches ``point``."""
    reached = _killer(nth)
    kind, _, text = point.partition(":")
    if kind in ("link-tmp", "mid-write"):
        real_replace = os.replace

        def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            name, target = os.path.basename(str(src)), os.path.basename(str(dst))
            is_link = name.endswith(".link.tmp")
            if (kind == "link-tmp" and is_link) or (
                kind == "mid-write" and not is_link and name.startswith(".") and text in target
            ):
                reached()
            real_replace(src, dst, *args, **kwargs)

        os.replace = replace  # the local location's rename
        if kind == "link-tmp":  # the SFTP location's temp link, filled before its rename
            _after(transfer, "fill_temp", reached)
        else:
            _after(transfer, "upload", reached, lambda sftp, tmp, data, path, _p: text in path)
    elif kind == "after-link":
        for cls in (LocalLocation, SftpLocation):
            _after(cls, "link_or_copy", reached)
    elif kind == "after-write":
        for cls in (LocalLocation, SftpLocation):
            _after(
                cls, "write_atomic", reached, lambda path, data: text in posixpath.basename(path)
            )
    elif kind == "after-remove":
        for cls in (LocalLocation, SftpLocation):
            _after(cls, "remove", reached)
    else:
        raise SystemExit(f"unknown crash point {point!r}")


if __name__ == "__main__":
    install(sys.argv[1], int(sys.argv[2]))
    sys.exit(main(sys.argv[3:]))
