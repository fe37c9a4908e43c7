"""Parsing of Qualtrics exports (SPEC §3.1) and its error messages (SPEC §6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import DEFAULT_WAVES
from pipeline.panel.qualtrics import ExportError, parse_export
from tests.exports import BASE_COLUMNS, export_bytes, response

FIXTURE = Path(__file__).parent / "data" / "qualtrics_export_sample.csv"


def test_fixture_three_header_rows_and_timezone():
    parsed = parse_export(FIXTURE.read_bytes(), "sample.csv", DEFAULT_WAVES)
    assert len(parsed.frame) == 20
    assert parsed.columns[0] == "StartDate" and "token" in parsed.columns
    assert "\n" in parsed.questions["S1"]  # question text spanning lines
    assert parsed.timezones["StartDate"] == "America/Los_Angeles"
    first = parsed.frame.iloc[0]
    # 2020-05-10 12:00:00 PDT == 19:00 UTC
    assert first["_start"] == 1589137200
    assert first["_wave"] == 2
    assert first["A2b"] == "1"
    assert parsed.frame["B2_14_TEXT"].isna().all()  # unquoted NA = missing


def test_utc_export_and_default_zone():
    rows = [response("R1", "t1", "2021-03-01 08:00:00")]
    parsed = parse_export(export_bytes(rows, timezone="UTC"), "utc.csv", DEFAULT_WAVES)
    assert parsed.frame["_start"].iloc[0] == 1614585600  # 08:00 UTC


def test_dash_token_quote_is_stripped_and_multiselect_stays_text():
    rows = [response("R1", "'-abc", "2021-03-01 08:00:00", B2="4,5")]
    parsed = parse_export(export_bytes(rows), "q.csv", DEFAULT_WAVES)
    assert parsed.frame["_token"].iloc[0] == "-abc"
    assert parsed.frame["B2"].iloc[0] == "4,5"


def test_unknown_and_missing_survey_id():
    rows = [
        response("R1", "t1", "2021-03-01 08:00:00", SurveyID="SV_unknown"),
        response("R2", "t2", "2021-03-01 08:00:00", SurveyID=""),
    ]
    frame = parse_export(export_bytes(rows), "q.csv", DEFAULT_WAVES).frame
    assert frame["_survey"].iloc[0] == "SV_unknown" and frame["_wave"].isna().all()
    assert frame["_survey"].isna().iloc[1]


def test_ragged_row_names_file_and_line():
    data = export_bytes([response("R1", "t1", "2021-03-01 08:00:00")] * 2)
    data += b"2021-03-01 08:00:00,too,few\n"
    with pytest.raises(ExportError) as err:
        parse_export(data, "ragged.csv", DEFAULT_WAVES)
    # every question text holds a newline: the header spans 3 + len(columns) lines
    first_data_line = 3 + len(BASE_COLUMNS) + 1
    assert f"ragged.csv, line {first_data_line + 2}, column Progress: row has 3 fields" in str(
        err.value
    )


def test_bad_timestamp_names_line():
    rows = [response("R1", "t1", "2021-03-01 08:00:00"), response("R2", "t2", "yesterday")]
    line = 3 + len(BASE_COLUMNS) + 2
    with pytest.raises(
        ExportError, match=rf"bad\.csv, line {line}, column StartDate: unparseable timestamp"
    ) as err:
        parse_export(export_bytes(rows), "bad.csv", DEFAULT_WAVES)
    assert "yesterday" not in str(err.value)  # never the cell's value


def test_undecodable_bytes_named():
    data = export_bytes([response("R1", "t1", "2021-03-01 08:00:00")]) + b"\xff\xfe,\n"
    line = 3 + len(BASE_COLUMNS) + 2
    with pytest.raises(ExportError, match=rf"enc\.csv, line {line}, column StartDate: undecodable"):
        parse_export(data, "enc.csv", DEFAULT_WAVES)


def test_missing_header_rows_and_bad_import_ids():
    with pytest.raises(ExportError, match="three header rows"):
        parse_export(b"StartDate,RecordedDate,ResponseId\n", "short.csv", DEFAULT_WAVES)
    data = b"StartDate,RecordedDate,ResponseId\na,b,c\nnot json,{},{}\n"
    with pytest.raises(ExportError, match=r"meta\.csv, line 3: row 3 of column 'StartDate'"):
        parse_export(data, "meta.csv", DEFAULT_WAVES)


def test_missing_required_column():
    cols = ["StartDate", "ResponseId", "token"]
    data = export_bytes([{"StartDate": "2021-03-01 08:00:00", "ResponseId": "R"}], columns=cols)
    with pytest.raises(ExportError, match="missing required column"):
        parse_export(data, "cols.csv", DEFAULT_WAVES)


def test_daylight_saving_edges_follow_the_documented_rule():
    rows = [
        response("R1", "t1", "2021-03-14 02:30:00"),  # skipped hour: shifted to 03:00 PDT
        response("R2", "t2", "2021-11-07 01:30:00"),  # repeated hour: read as daylight time
    ]
    frame = parse_export(export_bytes(rows), "dst.csv", DEFAULT_WAVES).frame
    assert frame["_start"].tolist() == [1615716000, 1636273800]


def test_unknown_time_zone_names_file_and_line():
    data = export_bytes([response("R1", "t1", "2021-03-01 08:00:00")], timezone="Mars/Olympus")
    with pytest.raises(ExportError) as err:
        parse_export(data, "tz.csv", DEFAULT_WAVES)
    line = 2 + len(BASE_COLUMNS) + 1  # the ImportId row, after the multi-line question texts
    assert f"tz.csv, line {line}: unknown time zone 'Mars/Olympus'" in str(err.value)
