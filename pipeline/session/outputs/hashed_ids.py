"""Hashed IDs across records: the collision check (two global IDs, one hashed ID)."""

from __future__ import annotations

from collections.abc import Iterable

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
