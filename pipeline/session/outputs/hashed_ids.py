"""Hashed IDs across records and studies: the collision check and the cross-study ID map
(``Study_1_ID,Study_2_ID``)."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.session.formats import to_csv
from pipeline.session.hashing import Collision, find_collisions
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record


def collisions(records: Iterable[Record], settings: StudySettings) -> list[Collision]:
    """Hashed IDs shared by two global IDs among the accounts, children and demographic
    snapshots of these records (all kinds checked together)."""
    pairs = []
    for record in records:
        for gid in (
            record["participant"]["global_id"],
            record["child"]["global_id"],
            (record["demographic"] or {}).get("uuid"),
        ):
            if gid:
                pairs.append((gid, settings.hashed(gid)))
    return find_collisions(pairs)


def idmap(
    records_a: Iterable[Record],
    settings_a: StudySettings,
    records_b: Iterable[Record],
    settings_b: StudySettings,
) -> bytes:
    """CSV ``Study_1_ID,Study_2_ID``: hashed child IDs (study A, study B) of the children
    present in both record sets, matched by child global ID; sorted, unique."""
    children_a = {r["child"]["global_id"] for r in records_a}
    children_b = {r["child"]["global_id"] for r in records_b}
    pairs = sorted({(settings_a.hashed(g), settings_b.hashed(g)) for g in children_a & children_b})
    return to_csv(["Study_1_ID", "Study_2_ID"], pairs)
