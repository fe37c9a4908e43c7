"""What shapes derived state and published bytes, :mod:`pipeline.panel.settings`: when a
run rebuilds the ledger (``rebuilding``) and when the render key changes."""

from __future__ import annotations

import pytest

from pipeline.panel import settings
from pipeline.panel.settings import (
    CHANGE_NAMES,
    LEDGER_PARTS,
    RENDER_PARTS,
    describe_change,
    file_sha256,
    key,
    ledger_settings,
    rebuilding,
    render_settings,
)
from tests.exports import response

CLOCK, LATER = "2021-06-02T12:00:00Z", "2021-06-03T12:00:00Z"
QUESTIONS = ["A1_1", "A2", "B2"]


# --- rebuilding -----------------------------------------------------------------------------


@pytest.fixture
def built(panel):
    """A study whose ledger was built by one committed night."""
    panel.export("a.csv", [response("R1", "t", "2021-06-01 09:00:00")])
    panel.night(CLOCK)
    assert panel.store.has_ledger() and panel.store.settings() is not None
    return panel


def test_a_rebuild_asked_for_rebuilds_a_new_study_too(panel):
    assert not rebuilding(panel.context(CLOCK))
    assert rebuilding(panel.context(CLOCK, rebuild=True))


def test_same_settings_no_rebuild(built):
    assert not rebuilding(built.context(LATER))
    assert rebuilding(built.context(LATER, rebuild=True))


@pytest.mark.parametrize(
    "change",
    [{"rules": {"min_answers": 3}}, {"rules": {"cutoff_hour": 5}},
     {"rules": {"consent_value": "yes"}}, {"timezone": "America/New_York"},
     {"waves": {"SV_cT2ri3tFp2dhJGZ": 2}}],
)  # fmt: skip
def test_a_changed_ledger_setting_rebuilds_an_existing_ledger(built, change):
    built.configure(**change)
    assert rebuilding(built.context(LATER))


def test_a_new_store_version_rebuilds(built, monkeypatch):
    monkeypatch.setattr(settings, "STORE_VERSION", settings.STORE_VERSION + 1)
    assert rebuilding(built.context(LATER))


def test_a_changed_ledger_setting_without_a_ledger_rebuilds_nothing(panel):
    panel.night(CLOCK)  # an empty drop: settings recorded, no token
    assert panel.store.settings() is not None and not panel.store.has_ledger()
    panel.configure(rules={"min_answers": 3})
    assert not rebuilding(panel.context(LATER))


def test_a_render_setting_changes_no_ledger(built, tmp_path):
    zips = tmp_path / "zips.csv"
    zips.write_text("zip5,population\n99999,12\n")
    built.configure(zip_population=str(zips), gzip_daily=True, reissue="changed")
    assert not rebuilding(built.context(LATER))


# --- the render key ---------------------------------------------------------------------------


def _render_key(cfg, questions=QUESTIONS, zip_sha=None) -> str:
    return key(render_settings(cfg, list(questions), zip_sha), RENDER_PARTS)


def test_render_key_changes_with_the_header(panel):
    cfg = panel.cfg
    same = _render_key(cfg)
    assert _render_key(cfg, list(QUESTIONS)) == same  # a function of the values alone
    assert _render_key(cfg, [*QUESTIONS, "Z9"]) != same  # a column added
    assert _render_key(cfg, QUESTIONS[::-1]) != same  # the same columns, reordered
    assert _render_key(cfg, QUESTIONS[:-1]) != same  # a column gone


def test_render_key_changes_with_the_format_version(panel, monkeypatch):
    before = _render_key(panel.cfg)
    ledger_before = key(ledger_settings(panel.cfg), LEDGER_PARTS)
    monkeypatch.setattr(settings, "FORMAT_VERSION", settings.FORMAT_VERSION + 1)
    assert _render_key(panel.cfg) != before
    assert key(ledger_settings(panel.cfg), LEDGER_PARTS) == ledger_before  # no rebuild


def test_render_key_follows_the_zip_tables_content_and_value_rules(panel, tmp_path):
    table = tmp_path / "zips.csv"
    table.write_text("zip5,population\n99999,12\n")
    first = file_sha256(str(table))
    table.write_text("zip5,population\n99999,12000\n")  # the same file, new content
    assert file_sha256(str(table)) != first and file_sha256(None) is None
    base = _render_key(panel.cfg)
    assert _render_key(panel.cfg, zip_sha=first) != base
    assert _render_key(panel.cfg, zip_sha=first) != _render_key(
        panel.cfg, zip_sha=file_sha256(str(table))
    )
    numeric = panel.configure(rules={"numeric_items": ["Q40"]})
    assert _render_key(numeric) != base
    assert _render_key(panel.configure(reissue="changed")) == base  # not a value rule
    assert key(None, RENDER_PARTS) is None


def test_describe_change_names_what_changed(panel, monkeypatch):
    old = {**ledger_settings(panel.cfg), **render_settings(panel.cfg, QUESTIONS, None)}
    parts = (*LEDGER_PARTS, *RENDER_PARTS)
    assert describe_change(None, old, parts) == CHANGE_NAMES["store_version"]
    assert describe_change(old, dict(old), parts) == "rendering rules changed"
    monkeypatch.setattr(settings, "FORMAT_VERSION", 99)
    new = {**ledger_settings(panel.cfg), **render_settings(panel.cfg, [*QUESTIONS, "Z9"], "ab")}
    assert describe_change(old, new, parts) == (
        "formatting version 99; published columns changed (added: Z9); ZIP population table changed"
    )
