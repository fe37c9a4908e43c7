"""The SHA256SUMS files of a publish location (SPEC §3.6).

One per folder, so that any folder downloaded flat (``sftp get -p *``) passes
``sha256sum -c SHA256SUMS`` on its own:

* the root's ``SHA256SUMS`` lists the root's files (and ``parquet.SHA256SUMS``);
* each subfolder (``cumulative/``, ``monthly/``, ``docs/``, ``runs/``) has its own
  ``SHA256SUMS`` with names relative to it;
* ``parquet/`` must hold nothing but Parquet files (pyarrow and polars datasets refuse or
  misread anything else in it), so its sums are ``parquet.SHA256SUMS`` in the root, with
  paths relative to the root.

An older layout's root SHA256SUMS listed subfolder paths too; :func:`read` takes both.
"""

from __future__ import annotations

import hashlib
import posixpath

from pipeline.locations import Location

ROOT = "SHA256SUMS"
PARQUET = "parquet.SHA256SUMS"
PARQUET_DIR = "parquet"


def is_sums(name: str) -> bool:
    """Whether ``name`` is a SHA256SUMS file (none lists itself)."""
    return name == PARQUET or posixpath.basename(name) == ROOT


def _lines(listed: dict[str, str]) -> bytes:
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(listed.items())).encode()


def render(checksums: dict[str, str | None]) -> dict[str, bytes | None]:
    """Every SHA256SUMS file for the published files ``checksums`` (name → SHA-256, None:
    removed), the root's last (it lists ``parquet.SHA256SUMS``). A sums file whose folder
    has nothing left maps to None: it goes too."""
    # one pass of plain string operations: with `reissue: all` a year holds ~70,000 names
    root: dict[str, str] = {}
    groups: dict[str, dict[str, str]] = {}
    for name, sha in checksums.items():
        top, slash, rest = name.partition("/")
        if not slash:  # a root file
            if name == PARQUET:
                groups.setdefault(PARQUET, {})
            elif name != ROOT and sha is not None:
                root[name] = sha
            continue
        if top == PARQUET_DIR:
            sums, listed_as = PARQUET, name
        else:
            sums, listed_as = f"{top}/{ROOT}", rest
        listed = groups.setdefault(sums, {})
        if sha is not None and listed_as != ROOT:
            listed[listed_as] = sha
    out: dict[str, bytes | None] = {}
    for sums, listed in sorted(groups.items()):
        data = _lines(listed) if listed else None
        out[sums] = data
        if data is not None and "/" not in sums:
            root[sums] = hashlib.sha256(data).hexdigest()
    out[ROOT] = _lines(root)
    return out


def parse(text: str, sums: str = ROOT) -> dict[str, str]:
    """``sha256sum`` lines of the file ``sums`` → path from the root → SHA-256."""
    folder = posixpath.dirname(sums)
    out: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, name = line.partition("  ")
        if name:
            out[f"{folder}/{name}" if folder else name] = sha
    return out


def read(loc: Location) -> dict[str, str]:
    """Every published file the location's SHA256SUMS files list (path → SHA-256)."""
    out: dict[str, str] = {}
    for path in sorted(f.path for f in loc.list_files() if is_sums(f.path)):
        out.update(parse(loc.read_bytes(path).decode("utf-8"), path))
    return out
