"""``python -m pipeline``: see :mod:`pipeline.cli`."""

import atexit
import os
import sys

_status = 1  # an uncaught exception (its traceback is printed) exits 1, as Python would


@atexit.register  # registered first, so it runs last: after every other exit handler
def _exit_now() -> None:
    """Leave without tearing the interpreter down: freeing a first run's objects one by one
    took 1.4 s of a 1M-response run. Exit handlers (logging, the checker process, Dagster)
    have run and non-daemon threads were joined by now; every file the run wrote is closed.
    (A WAL checkpoint still running in its daemon thread stops here: see
    ``StateStore.checkpoint_in_background``.)"""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_status)


from pipeline.cli import main  # noqa: E402 - after the exit handler

try:
    _status = main()
except SystemExit as exc:  # argparse's usage errors (2), --help (0)
    _status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    raise
sys.exit(_status)
