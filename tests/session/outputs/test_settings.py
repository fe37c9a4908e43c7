"""Study settings and file names (:mod:`pipeline.session.outputs.settings`)."""

from __future__ import annotations

import pytest

from pipeline.session.outputs.build import build_outputs
from pipeline.session.outputs.settings import StudySettings, output_names, study_slug
from tests.session.factory import make_record, settings, uid
from tests.session.outputs.helpers import DEFAULT_NAMES, accept_all


def test_study_slug() -> None:
    assert study_slug("Physics Study") == "Physics-Study"
    assert study_slug("Baby's 1st study (v2)!") == "Baby-s-1st-study--v2--"
    assert study_slug("Ünïcode") == "Ünïcode"
    assert study_slug("Étude des bébés") == "Étude-des-bébés"
    assert study_slug("研究 ٣/4") == "研究-٣-4"  # Unicode letters and digits are kept
    assert settings(study_name="").slug == settings().study_uuid


def test_default_file_names() -> None:
    files = build_outputs([make_record()], settings(), accept_all("r1"))
    assert sorted(files) == DEFAULT_NAMES
    assert sorted(output_names(settings()).values()) == DEFAULT_NAMES


def test_identifying_selection_marks_file_names() -> None:
    chosen = settings(identifying=["child__birthday"])
    names = sorted(build_outputs([make_record()], chosen, accept_all("r1")))
    assert names == sorted(
        n.replace("all-responses.", "all-responses-identifiable.").replace(
            "all-children.", "all-children-identifiable."
        )
        for n in DEFAULT_NAMES
    )


def test_unknown_identifying_column_is_refused() -> None:
    with pytest.raises(ValueError, match="child__shoe_size"):
        settings(identifying=["child__shoe_size"])
    with pytest.raises(ValueError, match="salt"):
        settings(salt="secret")


def test_consent_comment_is_no_longer_opt_in() -> None:
    with pytest.raises(ValueError, match="consent__comment is always published"):
        settings(identifying=["consent__comment"])


def test_settings_from_the_config_block() -> None:
    from pipeline.config import SessionConfig

    block = SessionConfig(
        study_uuid=settings().study_uuid,
        study_name="Physics Study",
        hash_digits=8,
        identifying=["child__birthday"],
    )
    built = StudySettings.from_config(block, settings().salt)
    assert built == settings(hash_digits=8, identifying=("child__birthday",))
    assert built.hashed(uid("child-1")) == settings(hash_digits=8).hashed(uid("child-1"))
    assert len(built.hashed(uid("child-1"))) == 8
