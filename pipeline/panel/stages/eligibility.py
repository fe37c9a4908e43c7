"""Stage 3: one copy per ResponseId, each with its first failed eligibility rule."""

from __future__ import annotations

from collections import Counter
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
    """One copy per ResponseId (positions in its normalized batch) with its exclusion
    reason, per batch (a ResponseId in two batches is settled by the ledger, as over nights)."""

    batches: tuple[str, ...] = ()  # the normalized batches
    reasons: tuple[str, ...] = ()  # per batch: _pos (row in batch) and _reason, de-duplicated
    responses: int = 0
    eligible: int = 0
    excluded: Mapping[str, int] = field(  # responses per exclusion reason (every reason)
        default_factory=lambda: count_reasons(pd.Series([], dtype="string"))
    )
    duplicates: int = 0


def apply_eligibility(ctx: RunContext, norm: NormalizeResult) -> EligibilityResult:
    """De-duplicate by ResponseId and give every response its first failed rule (or none),
    batch by batch."""
    staged: list[str] = []
    responses = eligible = duplicates = 0
    excluded = Counter(count_reasons(pd.Series([], dtype="string")))
    for k, batch in enumerate(norm.batches):
        table = read_table(batch)
        # Reasons are per row, so they are computed on the batch as is (no wide copy).
        pos = coll.dedupe_rows(table.column("ResponseId"), to_numpy(table.column(RECORDED)))
        reasons = exclusion_reasons(table, ctx.cfg.rules).take(pos).reset_index(drop=True)
        target = ctx.run_dir / f"eligibility-{k:04d}.arrow"
        staged.append(write_frame(pd.DataFrame({"_pos": pos, "_reason": reasons}), target))
        responses += len(pos)
        eligible += int(reasons.isna().sum())
        excluded.update(count_reasons(reasons))
        duplicates += table.num_rows - len(pos)
    return EligibilityResult(
        batches=norm.batches, reasons=tuple(staged), responses=responses, eligible=eligible,
        excluded=dict(excluded), duplicates=duplicates,
    )  # fmt: skip
