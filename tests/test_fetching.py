"""pipeline.fetching: which source files are new to the state, and their archiving."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline import outages
from pipeline.archive import sha256
from pipeline.config import DEFAULT_WAVES, load_config
from pipeline.context import RunContext
from pipeline.fetching import Quarantined, quarantine_notices, set_aside
from pipeline.panel.qualtrics import ExportError, parse_export
from pipeline.panel.stages.fetch import is_export
from pipeline.state.store import StateStore
from tests.exports import export_bytes, response, write_export
from tests.study import Study


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


def _ctx(tmp_path) -> RunContext:
    cfg = load_config(Study(tmp_path).config)
    store = StateStore(cfg.state)
    store.dispose()  # set_aside and quarantine_notices read no state
    return RunContext(cfg, datetime(2021, 7, 1, 12, tzinfo=UTC), store, run_id="run-q")


def _malformed() -> tuple[bytes, ExportError]:
    """A real malformed export (an unparseable StartDate holding a distinctive value) and
    the parser's error for it."""
    data = export_bytes([
        response("R_SECRET1", "tok-SECRET-1", "2021-06-01 10:00:00"),
        response("R_SECRET2", "tok-SECRET-2", "June 1st SECRET-VALUE"),
    ])  # fmt: skip
    try:
        parse_export(data, "drop/export_2021_06_02.csv", DEFAULT_WAVES)
    except ExportError as exc:
        return data, exc
    raise AssertionError("the export should not parse")


def test_set_aside_keeps_bytes_and_error_in_the_quarantine(tmp_path):
    ctx = _ctx(tmp_path)
    data, exc = _malformed()
    sha = ctx.archive.put(data)
    q = set_aside(ctx, sha, "drop/export_2021_06_02.csv", exc)
    assert isinstance(q, Quarantined)
    assert (q.path, q.sha256, q.error) == ("drop/export_2021_06_02.csv", sha, str(exc))
    assert "line " in q.error and "StartDate" in q.error  # file, line and column
    kept = ctx.archive.root / "quarantine" / f"{sha[:12]}_drop_export_2021_06_02.csv"
    assert q.kept == str(kept)
    assert kept.read_bytes() == data
    assert kept.with_name(kept.name + ".error.txt").read_text() == str(exc) + "\n"
    assert ctx.archive.get(sha) == data  # the archive keeps its copy: nothing deleted


def test_set_aside_takes_a_message_as_well_as_an_exception(tmp_path):
    ctx = _ctx(tmp_path)
    sha = ctx.archive.put(b"\x1f\x8b truncated")
    q = set_aside(ctx, sha, "export.csv.gz", "export.csv.gz: truncated gzip")
    assert q.error == "export.csv.gz: truncated gzip" and q.sha256 == sha == sha256(
        b"\x1f\x8b truncated"
    )
    assert (ctx.archive.root / "quarantine" / f"{sha[:12]}_export.csv.gz").read_bytes() == (
        b"\x1f\x8b truncated"
    )


def test_quarantine_notices_name_each_file_and_its_error(tmp_path):
    ctx = _ctx(tmp_path)
    data, exc = _malformed()
    first = set_aside(ctx, ctx.archive.put(data), "drop/export_2021_06_02.csv", exc)
    second = set_aside(
        ctx,
        ctx.archive.put(b"x"),
        "export_2021_06_03.csv",
        "export_2021_06_03.csv: line 1: empty file",
    )
    notices = quarantine_notices(ctx, [first, second])
    assert [n["kind"] for n in notices] == ["NOTICE", "NOTICE"]
    assert notices[0]["message"] == (
        f"Input file drop/export_2021_06_02.csv was quarantined and not used: {exc}"
    )
    assert notices[1]["message"] == (
        "Input file export_2021_06_03.csv was quarantined and not used: "
        "export_2021_06_03.csv: line 1: empty file"
    )
    for n in notices:
        assert n["created"] == "2021-07-01 05:00:00 PDT"  # the run's clock, Pacific
        assert n["days"] == "" and n["run_id"] == "run-q"
    assert quarantine_notices(ctx, []) == []


def test_quarantine_notices_quote_no_cell_value(tmp_path):
    ctx = _ctx(tmp_path)
    data, exc = _malformed()
    q = set_aside(ctx, ctx.archive.put(data), "drop/export_2021_06_02.csv", exc)
    text = outages.render(quarantine_notices(ctx, [q])).decode()
    for value in ("SECRET", "June 1st", "R_SECRET", "tok-"):
        assert value.encode() in data  # in the file ...
        assert value not in text  # ... never in OUTAGES.txt


def test_quarantine_notices_are_one_line_each(tmp_path):
    ctx = _ctx(tmp_path)
    q = set_aside(ctx, ctx.archive.put(b"y"), "a.csv", "a.csv: line 2:\n  bad\theader")
    (notice,) = quarantine_notices(ctx, [q])
    assert (
        notice["message"]
        == "Input file a.csv was quarantined and not used: a.csv: line 2: bad header"
    )
