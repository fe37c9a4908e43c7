"""OUTAGES.txt: important updates for data users, newest entry first (SPEC §3.6)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

KINDS = ("DELAY", "CORRECTION", "NOTICE")

HEADER = (
    "OUTAGES.txt - important updates for data users (newest first).\n"
    "Each entry: time (study time zone), kind (DELAY, CORRECTION, NOTICE), affected `for`\n"
    "dates, message. Entries are never edited or removed.\n"
)


def entry(
    kind: str, message: str, days: Iterable[date | str] = (), *, at: datetime, timezone: str,
    run_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A new OUTAGES entry (a row of the ``outages`` table)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    message = " ".join(message.split())
    if not message:
        raise ValueError("an OUTAGES entry needs a message")
    day_list = sorted({d if isinstance(d, str) else d.isoformat() for d in days})
    local = at.astimezone(ZoneInfo(timezone))
    return {
        "created": local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "kind": kind,
        "days": ",".join(day_list),
        "message": message,
        "run_id": run_id,
    }


def render(entries: list[dict[str, Any]]) -> bytes:
    """The whole OUTAGES.txt from entries given newest first."""
    parts = [HEADER]
    for e in entries:
        days = e["days"] or "-"
        parts.append(f"\n{e['created']}  {e['kind']}  for: {days}\n  {e['message']}\n")
    return "".join(parts).encode("utf-8")


ENTRY_RE = re.compile(
    rf"^(?P<created>.+?)  (?P<kind>{'|'.join(KINDS)})  for: (?P<days>\S+)\n  (?P<message>.*)$"
)


def parse(text: str, run_id: str | None = None) -> list[dict[str, Any]]:
    """The entries of an OUTAGES.txt that :func:`render` wrote, newest first (``run_id``:
    what to record them under)."""
    entries = []
    for block in text.split("\n\n")[1:]:
        m = ENTRY_RE.match(block.strip("\n"))
        if m:
            days = "" if m["days"] == "-" else m["days"]
            entries.append({"created": m["created"], "kind": m["kind"], "days": days,
                            "message": m["message"], "run_id": run_id})  # fmt: skip
    return entries
