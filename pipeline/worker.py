"""Worker processes that run functions for their parent: ``python -m pipeline.worker``.

A run keeps GIL-bound work that needs no shared memory in processes of their own, on the
other core: the Great Expectations suites (:mod:`pipeline.checks`; GE alone takes seconds
to import) and the bulk staging of a large ledger write (:mod:`pipeline.state.bulk`).
The protocol is pickled ``(module, function, args)`` requests on stdin and ``(ok, value)``
replies on stdout, one at a time. A worker exits when its parent closes stdin (or dies).

Unlike ``multiprocessing``'s spawn, this never re-imports the parent's ``__main__``.
Set ``PIPELINE_NO_WORKER_PROCESSES=1`` to do all of that work in-process instead.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import subprocess
import sys
import threading
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO


class WorkerGone(RuntimeError):
    """The worker process died or could not start."""


NO_WORKERS_ENV = "PIPELINE_NO_WORKER_PROCESSES"


def workers_enabled() -> bool:
    """Whether work may go to worker processes (see :data:`NO_WORKERS_ENV`)."""
    return not os.environ.get(NO_WORKERS_ENV)


class Worker:
    """One worker process; :meth:`submit` queues a call and returns its future."""

    def __init__(self, name: str = "worker") -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.worker", name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )  # fmt: skip
        # one thread talks to the worker: requests are answered in order
        self._io = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-io")

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` (a module-level function) in the worker."""
        return self._io.submit(self._call, fn.__module__, fn.__name__, args)

    def _call(self, module: str, name: str, args: tuple[Any, ...]) -> Any:
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            pickle.dump((module, name, args), stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.flush()
            ok, value = pickle.load(stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise WorkerGone(f"worker process ended ({self._proc.poll()})") from exc
        if not ok:
            raise value
        return value

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self, grace: float = 2.0) -> None:
        """Stop the worker: it exits when its stdin closes; one still busy after ``grace``
        seconds (say, importing for a warm-up nobody needs any more) is killed."""
        self._io.shutdown(wait=False, cancel_futures=True)
        if self._proc.stdin:
            try:
                self._proc.stdin.close()
            except OSError:  # the worker is gone already
                pass
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


_SHARED: dict[str, Worker] = {}
_SHARED_LOCK = threading.Lock()


def shared(name: str) -> Worker | None:
    """This process's worker called ``name``, started on first use (and again if it died);
    None when workers are disabled or cannot start."""
    if not workers_enabled():
        return None
    with _SHARED_LOCK:
        worker = _SHARED.get(name)
        if worker is None or not worker.alive:
            try:
                worker = _SHARED[name] = Worker(name)
            except OSError:
                return None
            atexit.register(worker.close)
        return worker


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """The worker's loop: answer requests until stdin closes."""
    while True:
        try:
            module, name, args = pickle.load(requests)
        except EOFError:
            return
        try:
            reply = (True, getattr(importlib.import_module(module), name)(*args))
        except Exception as exc:  # noqa: BLE001 - sent back and raised in the parent
            exc.add_note(f"in the worker process:\n{traceback.format_exc()}")
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
            data = pickle.dumps((False, RuntimeError(f"{module}.{name}: {exc!r}")))
        replies.write(data)
        replies.flush()


def main() -> None:
    # Replies need a clean channel: keep the real stdout for them, send prints to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
