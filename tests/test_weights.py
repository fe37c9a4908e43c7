"""Weights (SPEC §3.5): first file by name wins, rows without a weight are withheld."""

from __future__ import annotations

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
