"""Hashed IDs (SPEC §4.2): the spec's test vectors, properties, and the collision check."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.session.hashing import Collision, find_collisions, hash_id
from pipeline.session.outputs import collisions
from tests.session.factory import make_record, settings, uid

ZERO = "00000000-0000-0000-0000-00000000000"
ALPHABET = set("ABCDEFGHJKLMNPQRSTUVWXYZ234567abcd=")  # base32 with I→c, O→d (1/0 never occur)


def test_vector_from_the_platform() -> None:
    assert (
        hash_id(
            "26edcab0-b578-49e4-9ef3-6f9e5ee32642",
            "c39fc4e9-0084-4efb-9db1-ea596c946108",
            "88b9d333-852d-42a2-8352-3027354ee136",
        )
        == "2Y7W5d"
    )


def test_vector_small_uuids_six_and_eight_digits() -> None:
    assert hash_id(ZERO + "1", ZERO + "2", ZERO + "3") == "G5DQR7"
    assert hash_id(ZERO + "1", ZERO + "2", ZERO + "3", digits=8) == "G5DQR77X"


def test_accepts_uuid_objects_and_upper_case() -> None:
    expected = hash_id(ZERO + "1", ZERO + "2", ZERO + "3")
    assert hash_id(uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)) == expected
    upper = "26EDCAB0-B578-49E4-9EF3-6F9E5EE32642"
    assert hash_id(upper, ZERO + "2", ZERO + "3") == hash_id(upper.lower(), ZERO + "2", ZERO + "3")


def test_rejects_non_uuids_and_bad_digit_counts() -> None:
    with pytest.raises(ValueError, match="entity id"):
        hash_id("not-a-uuid", ZERO + "2", ZERO + "3")
    with pytest.raises(ValueError, match="hash_digits"):
        hash_id(ZERO + "1", ZERO + "2", ZERO + "3", digits=0)
    with pytest.raises(ValueError, match="hash_digits"):
        hash_id(ZERO + "1", ZERO + "2", ZERO + "3", digits=57)


def test_study_specific() -> None:
    child = uid("some child")
    assert hash_id(child, uid("study A"), uid("salt")) != hash_id(
        child, uid("study B"), uid("salt")
    )
    assert hash_id(child, uid("study A"), uid("salt")) != hash_id(child, uid("study A"), uid("x"))


uuids = st.uuids()


@given(uuids, uuids, uuids, st.integers(min_value=1, max_value=56))
def test_properties(entity: uuid.UUID, study: uuid.UUID, salt: uuid.UUID, digits: int) -> None:
    value = hash_id(entity, study, salt, digits)
    assert len(value) == digits
    assert set(value) <= ALPHABET
    # The three UUIDs are XORed: their roles are interchangeable.
    assert value == hash_id(study, salt, entity, digits) == hash_id(salt, entity, study, digits)
    # A longer hash extends a shorter one.
    assert hash_id(entity, study, salt, 56).startswith(value)


def test_find_collisions_reports_shared_hashes_only() -> None:
    a, b, c = uid("a"), uid("b"), uid("c")
    pairs = [(a, "XXXXXX"), (b, "XXXXXX"), (a, "XXXXXX"), (c, "YYYYYY"), (c.upper(), "YYYYYY")]
    assert find_collisions(pairs) == [Collision("XXXXXX", tuple(sorted((a, b))))]
    assert "XXXXXX" in str(find_collisions(pairs)[0])
    assert find_collisions([(a, "X"), (a, "X")]) == []


def test_collisions_over_records_with_one_digit() -> None:
    # 40 distinct children and 32 possible one-character IDs: collisions are certain.
    records = [make_record(f"r{i}", child=f"kid{i}", family="fam") for i in range(40)]
    one = settings(hash_digits=1)
    found = collisions(records, one)
    assert found, "pigeonhole: some hashed ID must be shared"
    for collision in found:
        assert len(set(collision.global_ids)) >= 2
        assert {one.hashed(g) for g in collision.global_ids} == {collision.hashed_id}
    # With six digits these 40 children, one account and one snapshot do not collide.
    assert collisions(records, settings()) == []
