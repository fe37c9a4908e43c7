"""Shared output helpers (:mod:`pipeline.session.outputs.common`)."""

from __future__ import annotations

from pipeline.session.outputs.common import flatten, response_order
from tests.session.factory import make_record


def test_flatten_as_the_platform_flattens() -> None:
    """Keys joined by ``.`` in the order met, list items by index, empty objects and
    lists give no key; a scalar keeps its own key."""
    value = {"formData": {"a": {"b": [1, {"c": None}]}, "empty": {}, "none": []}, "x": "y"}
    assert flatten(value) == {"formData.a.b.0": 1, "formData.a.b.1.c": None, "x": "y"}
    assert list(flatten({"z": 1, "a": [["p", "q"]], "m": 2})) == ["z", "a.0.0", "a.0.1", "m"]
    assert flatten({"response__sequence": []}) == {}
    assert flatten({"response__eligibility": "Eligible"}) == {"response__eligibility": "Eligible"}


def test_flatten_same_key_twice_keeps_the_first_place_and_the_last_value() -> None:
    assert list(flatten({"a": {"x": 3}, "b": 1, "a.x": 4}).items()) == [("a.x", 4), ("b", 1)]


def test_rows_follow_the_response_id_as_a_number() -> None:
    records = [make_record(n, id=i) for n, i in (("a", 1353), ("b", "99"), ("c", 1000))]
    records.append(make_record("d", id="x-7"))
    records.append(make_record("e", id="²"))  # a digit to isdigit(), not to int()
    ordered = sorted(records, key=response_order)
    assert [r["response"]["id"] for r in ordered] == ["99", 1000, 1353, "x-7", "²"]
