"""The cross-study ID map (:mod:`pipeline.session.outputs.hashed_ids`)."""

from __future__ import annotations

import csv
import io

from pipeline.session.idmap import idmap
from tests.session.factory import make_record, settings, uid


def test_idmap_of_children_in_both_studies() -> None:
    study_a = settings()
    study_b = settings(study_uuid=uid("study B"), study_name="B", salt=uid("salt B"))
    in_a = [
        make_record("a1", child="both1"),
        make_record("a2", child="only-a"),
        make_record("a3", child="both2"),
        make_record("a4", child="both1"),
    ]
    in_b = [
        make_record("b1", child="both2"),
        make_record("b2", child="both1"),
        make_record("b3", child="only-b"),
    ]
    rows = list(csv.reader(io.StringIO(idmap(in_a, study_a, in_b, study_b).decode())))
    assert rows[0] == ["Study_1_ID", "Study_2_ID"]
    expected = sorted([study_a.hashed(uid(k)), study_b.hashed(uid(k))] for k in ("both1", "both2"))
    assert rows[1:] == expected
    assert all(a != b for a, b in rows[1:])  # study-specific hashes
