"""Rules reach every day (SPEC §3.6): a change to what shapes published values re-renders
every published day once; days whose bytes change are re-issued with one CORRECTION entry
naming the change, unchanged days are not re-sent, the cumulative file stays rectangular."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pyarrow.compute as pc
import pytest

from pipeline.panel import output, settings
from pipeline.state.store import StateStore
from tests.exports import BASE_COLUMNS, response, write_export
from tests.study import Study

NAME = "cvid_responses_2021_06_{:02d}_recordedby_2021_06_{:02d}.csv"


@pytest.fixture
def study(tmp_path) -> Study:
    """Three published days: 06-01 has a sparse ZIP and a text answer, 06-03 a half A2."""
    study = Study(tmp_path, options={"reissue": "changed", "stabilization_days": 0})
    write_export(study.drop, "e.csv", [
        response("R1", "a", "2021-06-01 09:00:00", A3="99999", B2_14_TEXT="hello there"),
        response("R2", "b", "2021-06-02 09:00:00", A3="98105"),
        response("R3", "c", "2021-06-03 09:00:00", A2="2.5", Q40="7"),
    ])  # fmt: skip
    assert study.run("2021-06-04T12:00:00Z") == 0
    assert study.daily() == [NAME.format(d, 4) for d in (1, 2, 3)]
    return study


def _reissued(study: Study) -> tuple[list[str], list[str]]:
    """Old days (06-01..06-03) the newest run re-sent, and those it re-issued by link."""
    runs = sorted(f for f in study.files() if f.startswith("runs/") and f.endswith(".json"))
    manifest = json.loads(study.text(runs[-1]))
    old = tuple(f"cvid_responses_2021_06_0{d}_" for d in (1, 2, 3))
    return (
        [f for f in manifest["published"] if f.startswith(old) and "_recordedby_" in f],
        [f for f in manifest["reissued_by_link"] if f.startswith(old)],
    )


def _corrections(study: Study) -> list[dict]:
    store = StateStore(f"sqlite:///{study.root / 'state.db'}")
    try:
        return [e for e in store.outages() if e["kind"] == "CORRECTION"]
    finally:
        store.dispose()


def _cumulative(study: Study) -> list[list[str]]:
    name = next(f for f in study.files() if f.startswith("cumulative/cvid_responses_"))
    return list(csv.reader(io.StringIO(gzip.decompress((study.pub / name).read_bytes()).decode())))


def test_zip_table_added_reaches_old_days(study, tmp_path):
    assert "99999" in study.text(NAME.format(1, 4))
    table = tmp_path / "zips.csv"
    table.write_text("zip5,population\n99999,12\n98105,45000\n")
    study.configure(zip_population=str(table))
    assert study.run("2021-06-05T12:00:00Z") == 0
    assert _reissued(study) == ([NAME.format(1, 5)], [])  # 02, 03 not re-sent
    assert "99999" not in study.text(NAME.format(1, 5))
    assert study.text(NAME.format(1, 4)).count("99999") == 1  # the old version stays
    [entry] = _corrections(study)
    assert entry["days"] == "2021-06-01"
    assert "ZIP population table changed" in entry["message"]
    assert all("99999" not in row for row in _cumulative(study))
    # the next night: nothing changed, nothing re-rendered, no new entry
    assert study.run("2021-06-06T12:00:00Z") == 0
    assert _reissued(study) == ([], [])
    assert len(_corrections(study)) == 1


def _a2(study: Study, name: str) -> str:
    return next(csv.DictReader(io.StringIO(study.text(name))))["A2"]


def test_numeric_items_changed_reaches_old_days(study):
    assert _a2(study, NAME.format(3, 4)) == "NA"  # A2 is a whole-number item: 2.5 is NA
    study.configure(rules={"numeric_items": ["Q40"]})  # A2 is now a text item
    assert study.run("2021-06-05T12:00:00Z") == 0
    assert _reissued(study) == ([NAME.format(3, 5)], [])
    assert _a2(study, NAME.format(3, 5)) == "2.5"
    [entry] = _corrections(study)
    assert entry["days"] == "2021-06-03" and "numeric items changed" in entry["message"]


def test_formatting_version_bump_reaches_old_days(study, monkeypatch):
    # a bump alone (same bytes): every day is rendered again, none is re-sent
    monkeypatch.setattr(settings, "FORMAT_VERSION", settings.FORMAT_VERSION + 1)
    assert study.run("2021-06-05T12:00:00Z") == 0
    assert _reissued(study) == ([], [])
    assert _corrections(study) == []
    # a new formatting rule with its bump: only the day whose bytes change is re-issued
    plain = output.format_text
    monkeypatch.setattr(
        output, "format_text", lambda values: pc.replace_substring(plain(values), "hello", "Hi")
    )
    monkeypatch.setattr(settings, "FORMAT_VERSION", settings.FORMAT_VERSION + 1)
    assert study.run("2021-06-06T12:00:00Z") == 0
    assert _reissued(study) == ([NAME.format(1, 6)], [])
    assert "Hi there" in study.text(NAME.format(1, 6))
    [entry] = _corrections(study)
    assert entry["days"] == "2021-06-01"
    assert f"formatting version {settings.FORMAT_VERSION}" in entry["message"]


def test_new_column_rerenders_every_day_and_keeps_the_cumulative_rectangular(study):
    columns = [*BASE_COLUMNS, "Z9"]
    write_export(study.drop, "e2.csv", [response("R4", "d", "2021-06-04 09:00:00", Z9="new")],
                 columns=columns)  # fmt: skip
    assert study.run("2021-06-05T12:00:00Z") == 0
    assert _reissued(study) == ([NAME.format(d, 5) for d in (1, 2, 3)], [])
    header, *rows = _cumulative(study)
    assert "Z9" in header and len(rows) == 4
    assert {len(r) for r in rows} == {len(header)}
    [entry] = _corrections(study)
    assert entry["days"] == "2021-06-01,2021-06-02,2021-06-03"
    assert "published columns changed (added: Z9)" in entry["message"]
