"""Parsing of Qualtrics exports (SPEC §3.1) and its error messages (SPEC §6)."""

from __future__ import annotations

import gzip
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


def test_quoted_empty_cell_is_missing_and_quoted_na_is_text():
    rows = [response("R1", "t1", "2021-03-01 08:00:00", A1_1="CELL1", B2="CELL2"),
            response("R2", "t2", "2021-03-01 08:00:00", A1_1="2", B2="x")]  # fmt: skip
    data = export_bytes(rows).replace(b"CELL1", b'""').replace(b"CELL2", b'"NA"')
    frame = parse_export(data, "q.csv", DEFAULT_WAVES).frame
    assert frame["A1_1"].isna().tolist() == [True, False]
    assert frame["B2"].tolist() == ["NA", "x"]


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


# --------------------------------------------------------------------------- SPEC §6 (issue 15)


def test_header_only_export_is_valid_with_or_without_final_newline():
    data = export_bytes([])
    for body in (data, data.rstrip(b"\n"), data + b"\n\n", data + b" \t\r\n\x0b\x0c\n"):
        parsed = parse_export(body, "empty-day.csv", DEFAULT_WAVES)
        assert parsed.table.num_rows == 0
        assert parsed.columns == BASE_COLUMNS and "_start" in parsed.table.column_names


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"", "empty.csv, line 1: empty file"),
        (b" \r\n\t\n", "empty.csv, line 1: empty file"),
        (b"StartDate,RecordedDate,ResponseId\n", "empty.csv, line 2: expected three header"),
        (b"StartDate,RecordedDate,ResponseId\na,b,c", "empty.csv, line 3: expected three header"),
        (b"StartDate,RecordedDate,ResponseId\na,b,c\n", "empty.csv, line 3: expected three header"),
    ],
)
def test_empty_file_and_missing_header_rows_name_a_line(data, where):
    with pytest.raises(ExportError) as err:
        parse_export(data, "empty.csv", DEFAULT_WAVES)
    assert str(err.value).startswith(where)


def test_truncated_gzip_names_the_line_where_readable_data_stops():
    from pipeline.panel.qualtrics import decompress

    data = export_bytes([response(f"R{i}", f"t{i}", "2021-03-01 08:00:00") for i in range(400)])
    packed = gzip.compress(data)
    assert decompress(packed, "ok.csv.gz") == data and decompress(data, "plain.csv") == data
    with pytest.raises(
        ExportError, match=r"^cut\.csv\.gz, line (\d+): truncated or corrupt gzip"
    ) as err:
        decompress(packed[: len(packed) // 2], "cut.csv.gz")
    line = int(str(err.value).split("line ")[1].split(":")[0])
    assert 4 + len(BASE_COLUMNS) < line < data.count(b"\n")  # somewhere in the data rows
    with pytest.raises(ExportError, match=r"^junk\.csv\.gz, line 1: truncated or corrupt"):
        decompress(b"not gzip at all", "junk.csv.gz")


# A row of a real export starts with StartDate, EndDate, Status, IPAddress, ..., ResponseId:
# what Arrow's and csv's messages quote. None of it may reach an error message.
IP, RID, TOKEN = "203.0.113.77", "R_PlantedResp0001", "tok-PLANTED-9f3c"
PRIVATE_COLUMNS = [*BASE_COLUMNS[:3], "IPAddress", *BASE_COLUMNS[3:]]
FIRST_DATA_LINE = 4 + len(PRIVATE_COLUMNS)  # every question text holds one newline


def _private_row(**answers: str) -> dict[str, str]:
    return response(RID, TOKEN, "2021-03-01 08:00:00", IPAddress=IP, **answers)


def _assert_private(message: str) -> None:
    for secret in (IP, RID, TOKEN):
        assert secret not in message, message


def test_ragged_rows_name_line_and_column_never_the_row():
    good = export_bytes([_private_row()] * 2, columns=PRIVATE_COLUMNS)
    row = good.splitlines(keepends=True)[-1]
    too_many = good + row.rstrip(b"\n") + b",extra\n"
    with pytest.raises(ExportError) as err:
        parse_export(too_many, "wide.csv", DEFAULT_WAVES)
    assert str(err.value).startswith(f"wide.csv, line {FIRST_DATA_LINE + 2}: row has 23 fields")
    _assert_private(str(err.value))
    truncated = good + row[: row.index(RID.encode()) + 5]  # the export stops mid-row
    with pytest.raises(ExportError) as err:
        parse_export(truncated, "cut.csv", DEFAULT_WAVES)
    assert str(err.value).startswith(
        f"cut.csv, line {FIRST_DATA_LINE + 2}, column DistributionChannel: row has 9 fields"
    )
    _assert_private(str(err.value))
    unterminated = good + row.replace(TOKEN.encode(), b'"' + TOKEN.encode())
    with pytest.raises(ExportError) as err:
        parse_export(unterminated, "quote.csv", DEFAULT_WAVES)
    assert f"quote.csv, line {FIRST_DATA_LINE + 2}, column" in str(err.value)
    _assert_private(str(err.value))


def test_nul_bytes_are_refused_with_line_and_column():
    data = export_bytes(
        [_private_row(), _private_row(B2_14_TEXT="a\x00b")], columns=PRIVATE_COLUMNS
    )
    with pytest.raises(ExportError) as err:
        parse_export(data, "nul.csv", DEFAULT_WAVES)
    assert (
        str(err.value)
        == f"nul.csv, line {FIRST_DATA_LINE + 1}, column B2_14_TEXT: NUL byte in a cell"
    )


def test_cells_longer_than_the_limit_are_refused_with_line_and_column():
    long = "x" * 40_000
    data = export_bytes(
        [_private_row(), _private_row(B2_14_TEXT=f"{TOKEN} {long}")], columns=PRIVATE_COLUMNS
    )
    with pytest.raises(ExportError) as err:
        parse_export(data, "big.csv", DEFAULT_WAVES)
    assert str(err.value) == (
        f"big.csv, line {FIRST_DATA_LINE + 1}, column B2_14_TEXT: cell too long: more than "
        "32767 characters (max_cell_chars)"
    )
    assert parse_export(data, "big.csv", DEFAULT_WAVES, max_cell_chars=50_000).table.num_rows == 2
    # multi-byte characters count as characters, not bytes
    wide = export_bytes([_private_row(B2_14_TEXT="é" * 20_000)], columns=PRIVATE_COLUMNS)
    assert parse_export(wide, "wide.csv", DEFAULT_WAVES, max_cell_chars=20_000).table.num_rows == 1
    with pytest.raises(ExportError, match="column B2_14_TEXT: cell too long: more than 19999"):
        parse_export(wide, "wide.csv", DEFAULT_WAVES, max_cell_chars=19_999)
    question = export_bytes([_private_row()], columns=PRIVATE_COLUMNS).replace(
        b"Question A2,", b"Question A2 " + b"q" * 40_000 + b","
    )
    with pytest.raises(ExportError, match=r"^q\.csv, line 2, column A2: header cell too long"):
        parse_export(question, "q.csv", DEFAULT_WAVES)


def test_empty_required_cell_names_its_column():
    data = export_bytes([_private_row(RecordedDate="")], columns=PRIVATE_COLUMNS)
    with pytest.raises(ExportError) as err:
        parse_export(data, "blank.csv", DEFAULT_WAVES)
    assert str(err.value) == f"blank.csv, line {FIRST_DATA_LINE}, column RecordedDate: empty cell"
