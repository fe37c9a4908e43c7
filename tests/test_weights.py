"""Weights (SPEC §3.5): first file by name wins, rows without a weight are withheld."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.panel.lag import ON_TIME, publishable
from pipeline.panel.qualtrics import TOKEN
from pipeline.panel.stages import render
from tests.exports import response, write_export
from tests.study import Study

DAY = "cvid_responses_2021_06_01_recordedby_{}.csv"


def test_weights_join_and_withhold(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    study = Study(tmp_path, options={"weights": str(weights)})
    write_export(study.drop, "e.csv", [
        response("R1", "a", "2021-06-01 09:00:00"),
        response("R2", "b", "2021-06-01 10:00:00"),
        response("R3", "c", "2021-06-01 11:00:00"),
    ])  # fmt: skip
    (weights / "2021_06_02_finish_full_survey_weights.csv").write_text(
        '"cid","weight"\n"a","1.5"\n"b","2.25"\n'
    )
    (weights / "2021_06_01_finish_full_survey_weights.csv").write_text("cid,weight\nb,9\n")
    (weights / "notes.csv").write_text("cid,weight\nc,4\n")  # not a weights file name
    assert study.run("2021-06-02T12:00:00Z") == 0
    lines = study.text(DAY.format("2021_06_02")).splitlines()
    assert lines[0].endswith(",weight")
    assert [line.rsplit(",", 1)[1] for line in lines[1:]] == ["1.5", "9"]  # b: earlier file wins
    assert len(lines) == 3  # c has no weight: withheld

    # c's weight arrives a night later: day 06-01 changes and is re-issued
    (weights / "2021_06_03_finish_full_survey_weights.csv").write_text("cid,weight\nc,4\n")
    assert study.run("2021-06-03T12:00:00Z") == 0
    lines = study.text(DAY.format("2021_06_03")).splitlines()
    assert [line.rsplit(",", 1)[1] for line in lines[1:]] == ["1.5", "9", "4"]


def test_bad_weights_file_is_quarantined(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    study = Study(tmp_path, options={"weights": str(weights)})
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 09:00:00")])
    (weights / "x_finish_full_survey_weights.csv").write_text("cid,weight\na,heavy\n")
    assert study.run("2021-06-02T12:00:00Z") == 0
    outages = study.text("OUTAGES.txt")
    assert "x_finish_full_survey_weights.csv, line 2" in outages


def test_failing_day_check_holds_publication(tmp_path, capsys):
    weights = tmp_path / "weights"
    weights.mkdir()
    study = Study(tmp_path, options={"weights": str(weights)})
    write_export(study.drop, "e.csv", [response("R1", "a", "2021-06-01 09:00:00")])
    (weights / "x_finish_full_survey_weights.csv").write_text("cid,weight\na,0\n")
    assert study.run("2021-06-02T12:00:00Z") != 0
    assert "publication held" in capsys.readouterr().err.lower()
    assert study.daily() == []  # nothing published, nothing committed
    outages = study.text("OUTAGES.txt")
    assert "DELAY  for: 2021-06-01" in outages and "expect_column_values_to_be_between" in outages
    # fixed weights: the next run publishes the day
    (weights / "a_finish_full_survey_weights.csv").write_text("cid,weight\na,2\n")
    assert study.run("2021-06-03T12:00:00Z") == 0
    assert DAY.format("2021_06_03") in study.daily()
    assert study.text(DAY.format("2021_06_03")).splitlines()[1].endswith(",2")


def test_the_weights_decide_however_late_a_response_was_recorded(tmp_path):
    """SPEC §3.5: with a weights source, a weighted winner is published even when recorded
    days after its cut-off; an unweighted one waits for its weight (day re-issued then)."""
    weights = tmp_path / "weights"
    weights.mkdir()
    study = Study(tmp_path, options={"weights": str(weights), "reissue": "changed"})
    write_export(study.drop, "e.csv", [
        response("R1", "ontime", "2021-06-01 09:00:00"),
        # recorded three days after 06-01's cut-off (06-02 04:00)
        response("R2", "late", "2021-06-01 10:00:00", "2021-06-05 09:00:00"),
        response("R3", "waits", "2021-06-01 11:00:00"),
    ])  # fmt: skip
    (weights / "w1_finish_full_survey_weights.csv").write_text("cid,weight\nontime,1\nlate,2\n")
    assert study.run("2021-06-06T12:00:00Z") == 0
    day = DAY.format("2021_06_06")
    lines = study.text(day).splitlines()[1:]
    assert [line.rsplit(",", 1)[1] for line in lines] == ["1", "2"]  # late is published
    run = json.loads(
        study.text(next(f for f in study.files() if f.startswith("runs/") and f.endswith(".json")))
    )
    assert run["rows_withheld_no_weight_or_late"] == 1  # waits: no weight yet
    # the cut-off rule still decides the CID lists: the late token is on none
    cids = study.cids / "cvid_cids_full_response_00_00_2021_06_01_-_23_59_2021_06_01.csv"
    assert cids.read_text().split() == ["ontime", "waits"]

    (weights / "w2_finish_full_survey_weights.csv").write_text("cid,weight\nwaits,3\n")
    assert study.run("2021-06-07T12:00:00Z") == 0
    reissued = DAY.format("2021_06_07")
    assert reissued in study.daily()  # the day changed: re-issued under the new date
    assert [x.rsplit(",", 1)[1] for x in study.text(reissued).splitlines()[1:]] == ["1", "2", "3"]
    assert study.text(day).count("\n") == 3  # the older version stays as it was


def test_without_weights_the_cutoff_decides(tmp_path):
    study = Study(tmp_path)
    write_export(study.drop, "e.csv", [
        response("R1", "ontime", "2021-06-01 09:00:00"),
        response("R2", "late", "2021-06-01 10:00:00", "2021-06-05 09:00:00"),
    ])  # fmt: skip
    assert study.run("2021-06-06T12:00:00Z") == 0
    lines = study.text(DAY.format("2021_06_06")).splitlines()
    assert len(lines) == 2 and lines[1].startswith("2021-06-01 09:00:00")


def test_publishable_rows_unit():
    stored = pa.table({
        TOKEN: ["a", "b", "c"],
        ON_TIME: [True, False, False],
    })  # fmt: skip
    assert publishable(stored, None).to_pylist() == [True, False, False]
    weights = pa.table({"cid": ["b", "c"], "weight": ["2", "1"]})
    assert publishable(stored, weights).to_pylist() == [False, True, True]
    assert publishable(stored, weights.slice(0, 0)).to_pylist() == [False, False, False]
    at = pc.index_in(stored.column(TOKEN), value_set=weights.column("cid"))
    assert publishable(stored, weights, at).to_pylist() == [False, True, True]


def test_a_day_rendered_in_parallel_chunks_has_the_bytes_of_one_chunk(tmp_path, monkeypatch):
    """A day larger than a render chunk is formatted chunk by chunk, two at a time, each with
    its own rows' weights: the files are those of the day formatted at once."""
    rows = [
        response(f"R{i:03d}", f"t{i:03d}", f"2021-06-01 {i // 60 % 24:02d}:{i % 60:02d}:00")
        for i in range(0, 240, 3)
    ]
    rows += [response("R999", "t000", "2021-06-01 23:59:00")]  # a collision, loses
    weights = "cid,weight\n" + "".join(f"t{i:03d},{(i + 1) / 7:.4f}\n" for i in range(0, 240, 9))

    def published(folder: str, chunk_rows: int) -> dict[str, bytes]:
        monkeypatch.setattr(render, "RENDER_ROWS", chunk_rows)
        (tmp_path / folder / "weights").mkdir(parents=True)
        study = Study(tmp_path / folder, options={"weights": str(tmp_path / folder / "weights")})
        write_export(study.drop, "e.csv", rows[::-1])  # not in publication order
        (tmp_path / folder / "weights" / "w_finish_full_survey_weights.csv").write_text(weights)
        assert study.run("2021-06-02T12:00:00Z") == 0
        return {
            name: (study.pub / name).read_bytes()
            for name in study.files()
            if not name.startswith("runs/") and name != "SHA256SUMS"
        }

    chunked, whole = published("chunked", 4), published("whole", 50_000)
    day = DAY.format("2021_06_02")
    assert chunked[day].count(b"\n") == 1 + len(range(0, 240, 9))  # weighted rows only
    assert {k.replace("_recordedby", "") for k in chunked} == {
        k.replace("_recordedby", "") for k in whole
    }
    assert chunked == whole
