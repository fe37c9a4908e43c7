"""gzip members of rendered day files, cached by content hash.

A cumulative file and a monthly rollup are the concatenation of one header member and
one member per day (RFC 1952 allows several members), so a day that did not change is
never compressed again. New members compress in parallel (zlib releases the GIL) while
the run's ledger commit proceeds in its own thread.
"""

from __future__ import annotations

import gzip
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from pipeline.context import RunContext

GZIP_LEVEL = 4  # about 3x faster than 6 for a few percent larger files


def gz(data: bytes) -> bytes:
    """One gzip member (no timestamp, so equal bytes give equal members)."""
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def member(ctx: RunContext, csv_sha: str) -> bytes:
    """The gzip member of a day's rows without the header, cached by content hash."""
    path = ctx.work / "gz" / csv_sha[:2] / f"{csv_sha}.gz"
    if path.exists():
        return path.read_bytes()
    data = ctx.csv_cache(csv_sha).read_bytes()
    out = gz(data[data.index(b"\n") + 1 :])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # unique: threads share days
    tmp.write_bytes(out)
    tmp.replace(path)
    return out


def members(ctx: RunContext, shas: list[str]) -> list[bytes]:
    """Members of many days; new ones compress in parallel."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        unique = sorted(set(shas))
        done = dict(zip(unique, pool.map(lambda sha: member(ctx, sha), unique), strict=True))
    return [done[sha] for sha in shas]
