"""Study-specific hashed IDs (SPEC §4.2) and the hashed-ID collision check."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_DIGITS = 6
_SWAP = str.maketrans({"1": "a", "0": "b", "I": "c", "O": "d"})

UuidLike = str | uuid.UUID


def _as_uuid(value: UuidLike, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} is not a UUID: {value!r}") from None


def hash_id(entity: UuidLike, study: UuidLike, salt: UuidLike, digits: int = DEFAULT_DIGITS) -> str:
    """Hashed ID of one entity (child, account, demographic snapshot) within one study.

    XOR of the 16 big-endian bytes of the entity, study and salt UUIDs; SHA-256 of those
    16 bytes; RFC 4648 base32 (uppercase, ``=`` padded); ``1→a, 0→b, I→c, O→d``; the
    first ``digits`` characters.
    """
    if digits < 1:
        raise ValueError(f"hash_digits must be at least 1, not {digits}")
    mixed = (
        _as_uuid(entity, "entity id").int
        ^ _as_uuid(study, "study uuid").int
        ^ _as_uuid(salt, "salt").int
    )
    digest = hashlib.sha256(mixed.to_bytes(16, "big")).digest()
    encoded = base64.b32encode(digest).decode("ascii").translate(_SWAP)
    if digits > len(encoded):
        raise ValueError(f"hash_digits must be at most {len(encoded)}, not {digits}")
    return encoded[:digits]


@dataclass(frozen=True)
class Collision:
    """One hashed ID shared by several distinct global IDs."""

    hashed_id: str
    global_ids: tuple[str, ...]

    def __str__(self) -> str:
        return f"hashed ID {self.hashed_id} is shared by {', '.join(self.global_ids)}"


def find_collisions(pairs: Iterable[tuple[str, str]]) -> list[Collision]:
    """Hashed IDs shared by two or more different global IDs, sorted by hashed ID.

    ``pairs`` are ``(global_id, hashed_id)``; a global ID listed twice is not a collision.
    Global IDs are compared as UUIDs when they parse as one (case and braces ignored).
    """
    owners: dict[str, set[str]] = {}
    for global_id, hashed in pairs:
        try:
            key = str(uuid.UUID(str(global_id)))
        except ValueError:
            key = str(global_id)
        owners.setdefault(hashed, set()).add(key)
    return [
        Collision(hashed, tuple(sorted(ids)))
        for hashed, ids in sorted(owners.items())
        if len(ids) > 1
    ]
