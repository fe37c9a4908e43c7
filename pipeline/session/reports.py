"""OUTAGES.txt notices about session input that was read but not (yet) used (SPEC §6):
records set aside one by one, and consent rulings on responses never received.

One NOTICE per input file, naming the file, the 1-based record numbers and the lines,
never a value of the input; a long list is cut after :data:`LISTED` items (the run
manifest lists every one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline import outages
from pipeline.context import RunContext
from pipeline.limits import shown
from pipeline.session.inputs import SessionInputError
from pipeline.session.records import Ruling

LISTED = 5


def _listed(items: list[str], sep: str = "; ") -> str:
    more = len(items) - LISTED
    return sep.join(items[:LISTED]) + (
        f"{sep}and {more} more (see the run manifest)" if more > 0 else ""
    )


def set_aside_message(file: str, problems: list[SessionInputError]) -> str:
    """``Input file F: N record(s) set aside and not used (…): record 3, line 41: reason``."""
    places = []
    for p in problems:
        where = [f"record {p.record}"] + ([f"line {p.line}"] if p.line is not None else [])
        places.append(f"{', '.join(where)}: {p.reason}")
    return (
        f"Input file {shown(file)}: {len(problems)} record(s) set aside and not used "
        f"(the file's other records were used): {_listed(places)}"
    )


def unmatched_message(file: str, rulings: list[Ruling]) -> str:
    """``Input file F: N consent ruling(s) on a response never received (line 4, 9): …``
    (a response whose record was set aside counts as not received)."""
    lines = _listed([str(r.line) for r in rulings], ", ")
    return (
        f"Input file {shown(file)}: {len(rulings)} consent ruling(s) on a response never "
        f"received (none among the records used; line {lines}): kept, and applied if the "
        "response arrives"
    )


def record_notices(
    ctx: RunContext, set_aside: Iterable[SessionInputError], unmatched: Iterable[Ruling]
) -> list[dict[str, Any]]:
    """The NOTICE entries of a run: per file, its records set aside, then per rulings file,
    its rulings on responses never received."""
    by_file: dict[str, list[SessionInputError]] = {}
    for problem in set_aside:
        by_file.setdefault(problem.file, []).append(problem)
    rulings: dict[str, list[Ruling]] = {}
    for ruling in unmatched:
        rulings.setdefault(ruling.file, []).append(ruling)
    messages = [set_aside_message(f, p) for f, p in sorted(by_file.items())]
    messages += [unmatched_message(f, r) for f, r in sorted(rulings.items())]
    return [
        outages.entry("NOTICE", m, at=ctx.as_of, timezone=ctx.cfg.timezone, run_id=ctx.run_id)
        for m in messages
    ]
