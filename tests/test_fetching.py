"""pipeline.fetching: which source files are new to the state, and their archiving."""

from __future__ import annotations

from pipeline.config import load_config
from pipeline.fetching import source_has_new
from pipeline.panel.stages.fetch import is_export
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


def test_fetch_archives_every_new_file_in_listing_order(tmp_path):
    """Every file is in the archive when the fetch
    returns, listed in the source's order, and the same bytes under two names (fetched
    at once) are archived once and parsed once."""
    import hashlib

    from pipeline.clock import parse_as_of
    from pipeline.context import RunContext
    from pipeline.fetching import fetch_inputs
    from pipeline.state.store import StateStore

    study = Study(tmp_path)
    cfg = load_config(study.config)
    names = [f"export_2021_06_{d:02d}.csv" for d in range(2, 8)]
    for i, name in enumerate(names):
        start = f"2021-06-01 {9 + i:02d}:00:00"
        write_export(study.drop, name, [response(f"K{i}", f"t{i}", start, start)])
    copy = study.drop / "export_2021_06_30.csv"  # the same bytes as the first file
    copy.write_bytes((study.drop / names[0]).read_bytes())
    store = StateStore(cfg.state)
    try:
        ctx = RunContext(cfg, parse_as_of("2021-07-01T12:00:00Z"), store, base_seq=0)
        res = fetch_inputs(ctx, is_export, "export")
    finally:
        store.dispose()
    listed = [*names, copy.name]
    assert [f.path for f in res.files] == listed
    for f in res.files:
        data = (study.drop / f.path).read_bytes()
        assert f.sha256 == hashlib.sha256(data).hexdigest()
        assert ctx.archive.get(f.sha256) == data
    assert [f.status for f in res.files] == ["applied"] * len(names) + ["duplicate"]
    assert [path for _sha, path in res.to_parse] == names and res.duplicates == 1
    assert res.bytes_fetched == sum((study.drop / n).stat().st_size for n in listed)
