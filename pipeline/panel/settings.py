"""What shapes a panel study's derived state and published bytes (SPEC §3.6, "Rules reach
every day").

Two keys are derived from the study's settings:

- the **ledger key**: everything that decides which response wins a token, whether it is
  eligible, its `for` day and whether it was on time, and what the day stores hold. When it
  changes (a rule setting, the wave table, the store layout of a new version), the next run
  rebuilds the ledger and the day stores from the raw archive.
- the **render key**: everything that shapes a published value: the header, the value
  rules (the spreadsheet formula guard among them), the ZIP population table's content and
  :data:`FORMAT_VERSION`. When it changes, every published day is rendered again once; days
  whose bytes change are re-issued.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.context import RunContext
from pipeline.panel.output import MIN_ZIP_POPULATION, WHOLE_NUMBER_COLUMNS, published_columns

# Bump when the code formats a published value differently: every day is re-rendered.
FORMAT_VERSION = 2
# Bump when the day stores or the ledger change meaning: the next run rebuilds them.
STORE_VERSION = 2

LEDGER_PARTS = (
    "store_version", "timezone", "cutoff_hour", "consent_column", "consent_value",
    "min_answers", "numeric_items", "require_us_state", "state_column", "waves",
)  # fmt: skip
RENDER_PARTS = (
    "format_version", "timezone", "numeric_items", "whole_number_items", "zip_min_population",
    "header", "zip_population", "guard_formulas",
)  # fmt: skip

# How a change of each part is named in OUTAGES.txt (CORRECTION entries).
CHANGE_NAMES = {
    "store_version": "pipeline upgrade (day stores rebuilt from the raw archive)",
    "timezone": "time zone changed",
    "cutoff_hour": "cut-off hour changed",
    "consent_column": "age-consent rule changed",
    "consent_value": "age-consent rule changed",
    "min_answers": "minimum number of answers changed",
    "numeric_items": "numeric items changed",
    "require_us_state": "US-state rule changed",
    "state_column": "US-state rule changed",
    "waves": "SurveyID wave table changed",
    "whole_number_items": "whole-number items changed",
    "zip_min_population": "ZIP population threshold changed",
    "header": "published columns changed",
    "zip_population": "ZIP population table changed",
    "guard_formulas": "spreadsheet formula guard (a leading ' before = + - @) turned",  # on/off
}


def file_sha256(path: str | None) -> str | None:
    """SHA-256 of a configured file's content (None when not configured)."""
    if not path:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def ledger_settings(cfg: Config) -> dict[str, Any]:
    """The settings behind the ledger and the day stores."""
    r = cfg.rules
    return {
        "store_version": STORE_VERSION, "timezone": cfg.timezone, "cutoff_hour": r.cutoff_hour,
        "consent_column": r.consent_column, "consent_value": r.consent_value,
        "min_answers": r.min_answers, "numeric_items": sorted(r.numeric_items),
        "require_us_state": r.require_us_state, "state_column": r.state_column,
        "waves": dict(sorted(cfg.waves.items())),
    }  # fmt: skip


def render_settings(cfg: Config, questions: list[str], zip_sha: str | None) -> dict[str, Any]:
    """The settings behind every published value (``zip_sha``: the ZIP table's content)."""
    header = "\x1f".join(published_columns(questions))
    return {
        "format_version": FORMAT_VERSION, "timezone": cfg.timezone,
        "numeric_items": sorted(cfg.rules.numeric_items),
        "whole_number_items": list(WHOLE_NUMBER_COLUMNS),
        "zip_min_population": MIN_ZIP_POPULATION,
        "header": hashlib.sha256(header.encode()).hexdigest(), "zip_population": zip_sha,
        "guard_formulas": cfg.rules.guard_formulas,
        # not a key part (the header's hash is): kept to name the columns a change adds
        "columns": published_columns(questions),
    }  # fmt: skip


def key(settings: dict[str, Any] | None, parts: tuple[str, ...]) -> str | None:
    """A hash of the named parts of ``settings`` (None when there are no settings)."""
    if settings is None:
        return None
    doc = json.dumps({p: settings.get(p) for p in parts}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


def describe_change(old: dict[str, Any] | None, new: dict[str, Any], parts: tuple[str, ...]) -> str:
    """What changed between two settings, in words for data users ("ZIP population table
    changed; formatting version 3")."""
    if old is None:
        return CHANGE_NAMES["store_version"]
    said: list[str] = []
    # the formula guard absent (settings of an older version): there was none
    old, new = ({**d, "guard_formulas": bool(d.get("guard_formulas"))} for d in (old, new))
    for part in parts:
        if old.get(part) == new.get(part):
            continue
        if part == "format_version":
            text = f"formatting version {new[part]}"
        elif part == "guard_formulas":
            text = f"{CHANGE_NAMES[part]} {'on' if new[part] else 'off'}"
        elif part == "header":
            text = CHANGE_NAMES[part] + column_changes(old.get("columns"), new.get("columns"))
        else:
            text = CHANGE_NAMES[part]
        if text not in said:
            said.append(text)
    return "; ".join(said) or "rendering rules changed"


def column_changes(old: list[str] | None, new: list[str] | None) -> str:
    """The columns added and removed, in words (" (added: A2b, B2b; removed: Q9)"); "" when
    the settings of an older version did not keep the columns."""
    if old is None or new is None:
        return ""
    added = [c for c in new if c not in set(old)]
    removed = [c for c in old if c not in set(new)]
    said = [f"added: {', '.join(added)}"] if added else []
    said += [f"removed: {', '.join(removed)}"] if removed else []
    return f" ({'; '.join(said)})" if said else " (column order)"


def rebuilding(ctx: RunContext) -> bool:
    """Whether this run rebuilds the ledger and the day stores from the raw archive: asked
    for (``python -m pipeline rebuild``), or the settings they were built with changed (a
    rule, the wave table, a new store layout; see :mod:`pipeline.panel.settings`)."""
    if ctx.rebuild:
        return True
    built = ctx.store.settings()
    if key(built, LEDGER_PARTS) == key(ledger_settings(ctx.cfg), LEDGER_PARTS):
        return False
    return ctx.store.has_ledger()  # a new study has nothing to rebuild
