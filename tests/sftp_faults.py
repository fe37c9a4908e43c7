"""Fault injection for SFTP tests: kill the real sshd while a transfer is in flight."""

from __future__ import annotations

import threading
import time


class Killer:
    """Kills sshd (and every connection) from a thread once a transfer is under way, and
    starts it again after ``downtime`` seconds unless ``downtime`` is None.

    The kill fires when a transfer of ``path`` (any path when None) is partly done and, with
    ``at``, has passed ``at`` bytes. Pass :meth:`progress` as the location's progress hook.
    """

    def __init__(
        self, sshd, *, path: str | None = None, at: int = 1, downtime: float | None = None
    ) -> None:
        self.sshd, self.path, self.at, self.downtime = sshd, path, at, downtime
        self.trigger, self.killed = threading.Event(), threading.Event()
        self.seen: list[tuple[int, int]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def progress(self, path: str, done: int, total: int) -> None:
        if self.path is not None and path != self.path:
            return
        self.seen.append((done, total))
        if self.at <= done < total and not self.trigger.is_set():
            self.trigger.set()
            self.killed.wait(15)  # the kill lands while this transfer is still open

    def _run(self) -> None:
        if not self.trigger.wait(120):
            return
        self.sshd.stop()
        self.killed.set()
        if self.downtime is not None:
            time.sleep(self.downtime)
            self.sshd.start()

    def join(self) -> None:
        self.trigger.set()  # never triggered: let the thread end
        self.thread.join(30)
