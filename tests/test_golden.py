"""Golden-file test of the exact published format (SPEC §3.6)."""

from __future__ import annotations

from tests.exports import response, write_export
from tests.study import Study

GOLDEN_DAY_1 = """\
StartDatetime,EndDatetime,A1_1,A2,A3,B2,B2_14_TEXT,Q40,wave,UserLanguage,weight
2021-06-01 10:00:00,2021-06-01 10:20:00,2,3,02139,"4,5",lots of space,2.5,2,EN,NA
2021-06-01 23:30:00,2021-06-01 23:40:00,1,NA,NA,"4,5","said ""hi"", then left",NA,2,ES,NA
"""

GOLDEN_DAY_2 = """\
StartDatetime,EndDatetime,A1_1,A2,A3,B2,B2_14_TEXT,Q40,wave,UserLanguage,weight
2021-06-02 00:10:00,NA,2,0,12345,3,NA,-1,NA,EN,NA
"""


def test_published_format_is_exact(tmp_path):
    study = Study(tmp_path)
    write_export(
        study.drop,
        "export_2021_06_02.csv",
        [
            response(
                "R1",
                "t1",
                "2021-06-01 10:00:00",
                "2021-06-01 10:30:00",
                end="2021-06-01 10:20:00",
                A2="3.0",
                A3="02139",
                B2_14_TEXT="  lots   of\tspace ",
                Q40="2.50",
            ),
            response(
                "R2",
                "t2",
                "2021-06-01 23:30:00",
                "2021-06-01 23:45:00",
                end="2021-06-01 23:40:00",
                A1_1="1",
                A2="2.5",
                A3="123456789",
                Q40="junk",
                UserLanguage="ES",
                B2_14_TEXT='said "hi", then left',
            ),
            response("R3", "t3", "2021-06-01 11:00:00", DistributionChannel="preview"),
            response("R4", "t1", "2021-06-01 12:00:00"),  # forwarded link: later start loses
            response(
                "R5",
                "t5",
                "2021-06-02 00:10:00",
                "2021-06-02 00:30:00",
                EndDate="",
                A2="0",
                A3="12345",
                B2="3",
                Q40="-1",
                SurveyID="SV_notknown",
            ),
        ],  # fmt: skip
    )
    assert study.run("2021-06-03T12:00:00Z") == 0  # 05:00 PDT: 06-01 and 06-02 are closed
    assert study.daily() == [
        "cvid_responses_2021_06_01_recordedby_2021_06_03.csv",
        "cvid_responses_2021_06_02_recordedby_2021_06_03.csv",
    ]
    assert study.text("cvid_responses_2021_06_01_recordedby_2021_06_03.csv") == GOLDEN_DAY_1
    assert study.text("cvid_responses_2021_06_02_recordedby_2021_06_03.csv") == GOLDEN_DAY_2
    header = GOLDEN_DAY_1.splitlines()[0]
    cumulative = study.text("cumulative/cvid_responses_2021_06_01_-_2021_06_02.csv.gz")
    assert cumulative == GOLDEN_DAY_1 + GOLDEN_DAY_2.split("\n", 1)[1]
    assert cumulative.count(header) == 1
    codebook = study.text("docs/codebook.csv").splitlines()
    assert codebook[0] == "variable,question,type,waves"
    assert any(
        line
        == 'A2,"Question A2, second line","number; whole numbers only (3 or 3.0), otherwise NA",2'
        for line in codebook
    )
