"""Shared output helpers (:mod:`pipeline.session.outputs.common`)."""

from __future__ import annotations

from pipeline.session.outputs.common import flatten


def test_flatten_nested_values() -> None:
    value = {"formData": {"a": {"b": [1, {"c": None}]}, "empty": {}, "none": []}, "x": "y"}
    assert flatten(value) == [("formData.a.b.0", 1), ("formData.a.b.1.c", None), ("x", "y")]
    assert flatten([["p", "q"]], "response__sequence") == [
        ("response__sequence.0.0", "p"),
        ("response__sequence.0.1", "q"),
    ]
