"""Stage 2, :mod:`pipeline.panel.stages.normalize`: exports parsed into one batch; a
malformed file is quarantined (file and line named, no cell value) and the others go on;
rows recorded after the clock wait; unknown SurveyIDs are counted."""

from __future__ import annotations

import gzip

from pipeline.panel.qualtrics import RECORDED, SURVEY, TOKEN, WAVE
from pipeline.panel.stages.normalize import UNKNOWN_WAVE_KEY, normalize_exports
from pipeline.staging import read_table
from tests.exports import BASE_COLUMNS, export_bytes, response

CLOCK = "2021-06-02T12:00:00Z"  # 05:00 PDT on 06-02
SECRET = "203.0.113.77-secret"


def _fetched(panel, clock: str = CLOCK):
    """A run's context and what its fetch stage found."""
    ctx = panel.context(clock)
    return ctx, panel.stages(ctx, until="fetch").fetch


def test_malformed_export_is_quarantined_and_the_others_go_on(panel):
    good = export_bytes([response("R1", "t1", "2021-06-01 09:00:00")])
    # a row with one field too many, holding a value that must never be quoted
    bad = good + f"{SECRET},".encode() + b",".join([b"x"] * len(BASE_COLUMNS)) + b"\n"
    (panel.drop / "bad.csv").write_bytes(bad)
    panel.export("good.csv", [response("R2", "t2", "2021-06-01 10:00:00"),
                              response("R3", "t3", "2021-06-01 11:00:00")])  # fmt: skip
    ctx, fetched = _fetched(panel)
    res = normalize_exports(ctx, fetched)

    [q] = res.quarantined
    line = good.count(b"\n") + 1  # the question texts span several lines
    assert q.path == "bad.csv" and q.error.startswith(f"bad.csv, line {line}")
    assert SECRET not in q.error and "x,x" not in q.error
    shas = {path: sha for sha, path in fetched.to_parse}
    assert res.file_status[shas["bad.csv"]].status == "quarantined"
    assert res.file_status[shas["bad.csv"]].error == q.error
    assert res.file_status[shas["good.csv"]].status == "applied"
    assert res.file_status[shas["good.csv"]].rows == 2
    # kept aside in the archive, bytes and error, nothing else of the file
    kept = ctx.archive.root / "quarantine"
    [copy] = [p for p in kept.iterdir() if p.name.endswith("bad.csv")]
    assert copy.read_bytes() == bad
    assert SECRET not in (kept / f"{copy.name}.error.txt").read_text()
    # the good file's rows are the batch
    assert res.rows_in == 2
    [path] = res.batches
    batch = read_table(path)
    assert batch.column("ResponseId").to_pylist() == ["R2", "R3"]


def test_rows_recorded_after_the_clock_are_deferred(panel):
    panel.export("a.csv", [
        response("R1", "t1", "2021-06-01 09:00:00", "2021-06-01 09:30:00"),
        response("R2", "t2", "2021-06-01 10:00:00", "2021-06-02 05:00:01"),  # 1 s past
        response("R3", "t3", "2021-06-01 11:00:00", "2021-06-02 05:00:00"),  # at the clock
    ])  # fmt: skip
    ctx, fetched = _fetched(panel)
    res = normalize_exports(ctx, fetched)
    assert (res.rows_in, res.deferred) == (2, 1)
    [status] = res.file_status.values()
    assert status.status == "pending" and status.rows == 3  # the file's rows, all of them
    [path] = res.batches
    batch = read_table(path)
    assert batch.column("ResponseId").to_pylist() == ["R1", "R3"]
    assert max(batch.column(RECORDED).to_pylist()) <= ctx.as_of.timestamp()


def test_unknown_survey_ids_are_counted_and_kept_without_a_wave(panel):
    panel.export("a.csv", [
        response("R1", "t1", "2021-06-01 09:00:00"),
        response("R2", "t2", "2021-06-01 10:00:00", SurveyID="SV_notknown"),
        response("R3", "t3", "2021-06-01 11:00:00", SurveyID="SV_alsonew"),
        response("R4", "t4", "2021-06-01 12:00:00", SurveyID=""),  # missing: not "unknown"
    ])  # fmt: skip
    ctx, fetched = _fetched(panel)
    res = normalize_exports(ctx, fetched)
    assert res.unknown_waves == 2 and res.rows_in == 4
    [path] = res.batches
    batch = read_table(path)
    assert batch.column(WAVE).to_pylist() == [2, None, None, None]
    assert batch.column(SURVEY).to_pylist() == [
        "SV_cT2ri3tFp2dhJGZ", "SV_notknown", "SV_alsonew", None,
    ]  # fmt: skip
    [status] = res.file_status.values()
    assert status.layout.waves == (2,) and status.layout.key == 2.0


def test_exports_of_different_waves_combine_with_their_layouts(panel):
    wave1 = [c for c in BASE_COLUMNS if c not in ("A3", "Q40")]
    panel.export("w1.csv", [response("R1", "t1", "2021-06-01 09:00:00", SurveyID="SV_8zYl1sFN6fAFIxv")],
                 columns=wave1)  # fmt: skip
    (panel.drop / "w2.csv.gz").write_bytes(
        gzip.compress(export_bytes([response("R2", "'-t2", "2021-06-01 10:00:00", Q40="4")]))
    )
    panel.export("unknown.csv", [response("R3", "t3", "2021-06-01 11:00:00", SurveyID="SV_x")])
    ctx, fetched = _fetched(panel)
    res = normalize_exports(ctx, fetched)
    shas = {path: sha for sha, path in fetched.to_parse}
    layouts = {path: res.file_status[sha].layout for path, sha in shas.items()}
    assert layouts["w1.csv"].key == 1.0 and "Q40" not in layouts["w1.csv"].columns
    assert layouts["w2.csv.gz"].columns == ("A1_1", "A2", "A3", "B2", "B2_14_TEXT", "Q40")
    assert layouts["unknown.csv"].key == UNKNOWN_WAVE_KEY and layouts["unknown.csv"].waves == ()
    [path] = res.batches
    batch = read_table(path)
    assert batch.num_rows == 3
    rows = {r["ResponseId"]: r for r in batch.select(["ResponseId", "Q40", TOKEN]).to_pylist()}
    assert rows["R1"]["Q40"] is None  # a column of the other wave: null
    assert rows["R2"]["Q40"] == "4" and rows["R2"][TOKEN] == "-t2"  # gunzipped, quote stripped


def test_a_header_only_export_adds_no_rows(panel):
    panel.export("empty.csv", [])
    ctx, fetched = _fetched(panel)
    res = normalize_exports(ctx, fetched)
    assert res.batches == () and res.rows_in == 0 and res.quarantined == ()
    [status] = res.file_status.values()
    assert status.status == "applied" and status.rows == 0 and status.layout is None


def test_nothing_to_parse_gives_an_empty_result(panel):
    ctx, fetched = _fetched(panel)
    res = normalize_exports(ctx, fetched)
    assert res.batches == () and res.file_status == {} and res.deferred == 0
    assert not (ctx.run_dir / "normalized.arrow").exists()
