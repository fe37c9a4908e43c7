"""pipeline.fetching: which source files are new to the state."""

from __future__ import annotations

from pipeline.config import load_config
from pipeline.fetching import source_has_new
from pipeline.panel.stages import is_export
from tests.exports import response, write_export
from tests.study import Study


def test_source_has_new_until_a_run_applies_the_files(tmp_path):
    study = Study(tmp_path)
    cfg = load_config(study.config)
    assert not source_has_new(cfg, is_export)  # an empty drop
    (study.drop / "notes.txt").write_text("not an export")
    assert not source_has_new(cfg, is_export)
    write_export(study.drop, "export_2021_06_02.csv", [
        response("K1", "ok1", "2021-06-01 09:00:00", "2021-06-01 09:20:00"),
    ])  # fmt: skip
    assert source_has_new(cfg, is_export)
    assert study.run("2021-06-02T12:00:00Z") == 0
    assert not source_has_new(cfg, is_export)  # known by path, size and mtime now
    write_export(study.drop, "export_2021_06_02.csv", [
        response("K1", "ok1", "2021-06-01 09:00:00", "2021-06-01 09:20:00"),
        response("K2", "ok2", "2021-06-01 10:00:00", "2021-06-01 10:20:00"),
    ])  # fmt: skip
    assert source_has_new(cfg, is_export)  # the same name, changed


def test_source_has_new_is_false_for_a_source_that_cannot_be_listed(tmp_path):
    study = Study(tmp_path, source=str(tmp_path / "not-mounted"))
    assert not source_has_new(load_config(study.config), is_export)
