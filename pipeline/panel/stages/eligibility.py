"""Stage 3: one copy per ResponseId, each with its first failed eligibility rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from pipeline.arrays import to_numpy
from pipeline.context import RunContext
from pipeline.panel import collisions as coll
from pipeline.panel.eligibility import count_reasons, exclusion_reasons
from pipeline.panel.qualtrics import (
    RECORDED,
)
from pipeline.panel.stages.normalize import NormalizeResult
from pipeline.staging import read_table, write_frame


@dataclass(frozen=True)
class EligibilityResult:
    """One copy per ResponseId (positions in the normalized batch) with its exclusion reason."""

    batch: str | None = None  # the normalized batch
    reasons: str | None = None  # frame of _pos (row in batch) and _reason, de-duplicated
    responses: int = 0
    eligible: int = 0
    excluded: Mapping[str, int] = field(  # responses per exclusion reason (every reason)
        default_factory=lambda: count_reasons(pd.Series([], dtype="string"))
    )
    duplicates: int = 0


def apply_eligibility(ctx: RunContext, norm: NormalizeResult) -> EligibilityResult:
    """De-duplicate by ResponseId and give every response its first failed rule (or none)."""
    if norm.batch is None:
        return EligibilityResult()
    table = read_table(norm.batch)
    # Reasons are per row, so they are computed on the batch as is (no wide copy).
    pos = coll.dedupe_rows(table.column("ResponseId"), to_numpy(table.column(RECORDED)))
    every = exclusion_reasons(table, ctx.cfg.rules)
    reasons = every.take(pos).reset_index(drop=True)
    target = ctx.run_dir / "eligibility.arrow"
    write_frame(pd.DataFrame({"_pos": pos, "_reason": reasons}), target)
    return EligibilityResult(
        batch=norm.batch, reasons=str(target), responses=len(pos),
        eligible=int(reasons.isna().sum()), excluded=count_reasons(reasons),
        duplicates=table.num_rows - len(pos),
    )  # fmt: skip
