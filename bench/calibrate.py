"""How fast is this machine? Benchmark figures move ~2x between machines of the same kind.

Printed by the benchmarks next to their results, so numbers from different machines (and
sessions) can be compared: a pure-Python loop (interpreter speed) and a zlib pass
(native code and memory bandwidth).
"""

from __future__ import annotations

import time
import zlib


def machine_line() -> str:
    """One line describing this machine's speed (best of three short runs each)."""
    loop = min(_timed(_python_loop) for _ in range(3))
    data = bytes(range(256)) * 200_000  # 51 MB
    gzip = min(_timed(lambda: zlib.compress(data, 4)) for _ in range(3))
    return (f"machine: 10M-step Python loop {loop:.2f} s, zlib level 4 "
            f"{len(data) / gzip / 1e6:,.0f} MB/s")  # fmt: skip


def _python_loop() -> None:
    total = 0
    for i in range(10_000_000):
        total += i


def _timed(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t
