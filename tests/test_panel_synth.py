"""The panel export generator (pipeline/panel/synth/): format, determinism, rule exercisers."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.panel.synth import (
    SURVEY_IDS,
    UNKNOWN_SURVEY_IDS,
    generate_panel,
    layout,
)

FIXTURE = Path(__file__).parent / "data" / "qualtrics_export_sample.csv"
LA = ZoneInfo("America/Los_Angeles")
START, DAYS, PER_DAY, SEED = date(2020, 10, 27), 8, 500, 3  # spans the end of DST (Nov 1)
NAME_RE = re.compile(r"^export_(\d{4}_\d{2}_\d{2})_([123])\.csv$")
META = {
    "StartDate", "EndDate", "Status", "Progress", "Duration..in.seconds.", "Finished",
    "RecordedDate", "ResponseId", "DistributionChannel", "UserLanguage", "S1", "token",
    "SurveyID", "Q_RecaptchaScore", "Q_TerminateFlag", "QState_A3", "QCity_A3",
}  # fmt: skip
NUMERIC = {"A2", "A2b", "B2b", "Q40", "C10_1_1", "C10_2_1", "C10_3_1", "C10_4_1", "D3", "D4", "D5"}


def read(path: Path) -> tuple[list[str], list[str], list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1], rows[2], rows[3:]


def records(path: Path) -> list[dict[str, str]]:
    names, _texts, _meta, data = read(path)
    return [dict(zip(names, r, strict=True)) for r in data]


def zone_of(path: Path) -> str:
    names, _t, meta, _d = read(path)
    return json.loads(meta[names.index("StartDate")])["timeZone"]


def instant(value: str, zone: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(zone))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    return generate_panel(tmp_path_factory.mktemp("synth"), START, DAYS, PER_DAY, seed=SEED)


@pytest.fixture(scope="module")
def responses(files) -> dict[str, dict[str, str]]:
    """ResponseId → the response, timestamps in America/Los_Angeles."""
    out: dict[str, dict[str, str]] = {}
    for f in files:
        zone = zone_of(f)
        for r in records(f):
            if zone != "America/Los_Angeles":
                for col in ("StartDate", "EndDate", "RecordedDate"):
                    r[col] = f"{instant(r[col], zone).astimezone(LA):%Y-%m-%d %H:%M:%S}"
            out.setdefault(r["ResponseId"], r)
    return out


def test_same_arguments_give_identical_bytes(tmp_path):
    a = generate_panel(tmp_path / "a", START, 3, 200, seed=11)
    b = generate_panel(tmp_path / "b", START, 3, 200, seed=11)
    c = generate_panel(tmp_path / "c", START, 3, 200, seed=12)
    assert [p.name for p in a] == [p.name for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))
    assert {p.name: p.read_bytes() for p in a} != {p.name: p.read_bytes() for p in c}


def test_names_and_three_header_rows(files):
    assert files == sorted(files)
    first_delivery = min(NAME_RE.match(f.name).group(1) for f in files)
    assert first_delivery == f"{START + timedelta(days=1):%Y_%m_%d}"
    for f in files:
        assert NAME_RE.match(f.name), f.name
        names, texts, meta, data = read(f)
        assert data, f"{f.name} has no rows"
        assert {len(texts), len(meta)} | {len(r) for r in data} == {len(names)}
        objs = [json.loads(m) for m in meta]
        assert all(isinstance(o, dict) and o["ImportId"] for o in objs)
        for col in ("StartDate", "EndDate", "RecordedDate"):
            assert "timeZone" in objs[names.index(col)]
        assert sum("\n" in t for t in texts) >= 3 and any("," in t for t in texts)


def test_wave2_layout_is_the_fixture_layout():
    names, texts, meta, _data = read(FIXTURE)
    assert [c[0] for c in layout(2)] == names
    assert [c[2] for c in layout(2)] == texts
    assert [c[1] for c in layout(2)] == [json.loads(m)["ImportId"] for m in meta]


def test_waves_have_different_columns(files):
    columns: dict[int, list[str]] = {}
    for f in files:
        wave = int(NAME_RE.match(f.name).group(2))
        names = read(f)[0]
        assert columns.setdefault(wave, names) == names
        surveys = {r["SurveyID"] for r in records(f)}
        assert surveys <= {SURVEY_IDS[wave], "", *UNKNOWN_SURVEY_IDS}
    assert set(columns) == {1, 2, 3}
    assert set(columns[1]) < set(columns[2]) < set(columns[3])
    # each delivery day before the last switch is followed by one holding two waves at once
    by_day = defaultdict(set)
    for f in files:
        m = NAME_RE.match(f.name)
        by_day[m.group(1)].add(m.group(2))
    assert any(len(w) >= 2 for w in by_day.values())


def test_exactly_one_export_in_utc(files):
    utc = [f for f in files if zone_of(f) == "UTC"]
    assert len(utc) == 1
    names, _t, meta, _d = read(utc[0])
    for col in ("StartDate", "EndDate", "RecordedDate"):
        assert json.loads(meta[names.index(col)])["timeZone"] == "UTC"
    assert NAME_RE.match(utc[0].name).group(1) == f"{START + timedelta(days=2):%Y_%m_%d}"
    # the same responses appear in neighbouring Los Angeles exports at the same instants
    shared = 0
    la = {r["ResponseId"]: r for f in files if f != utc[0] for r in records(f)}
    for r in records(utc[0]):
        other = la.get(r["ResponseId"])
        if other:
            shared += 1
            for col in ("StartDate", "EndDate", "RecordedDate"):
                assert instant(r[col], "UTC") == instant(other[col], "America/Los_Angeles")
                assert r[col] != other[col]
    assert shared > 0


def test_overlapping_windows_repeat_responses_unchanged(files):
    seen: dict[str, tuple[str, dict[str, str]]] = {}
    repeats = 0
    for f in files:
        if zone_of(f) != "America/Los_Angeles":
            continue
        for r in records(f):
            if r["ResponseId"] in seen:
                repeats += 1
                assert seen[r["ResponseId"]][1] == r
            else:
                seen[r["ResponseId"]] = (f.name, r)
    assert repeats > 0


def test_every_response_is_delivered_once_or_more(files, responses):
    assert len(responses) == DAYS * PER_DAY
    rows = sum(len(read(f)[3]) for f in files)
    assert DAYS * PER_DAY < rows < 1.5 * DAYS * PER_DAY
    total = sum(f.stat().st_size for f in files)
    assert 150 * rows < total < 600 * rows + 20_000 * len(files)  # bytes per row, headers
    starts = [instant(r["StartDate"], "America/Los_Angeles").date() for r in responses.values()]
    assert min(starts) == START and max(starts) == START + timedelta(days=DAYS - 1)


def test_rule_exercisers_are_present(responses):
    rs = list(responses.values())
    n = len(rs)

    def share(pred) -> float:
        return sum(1 for r in rs if pred(r)) / n

    assert 0.004 < share(lambda r: r["DistributionChannel"] == "preview") < 0.025
    assert 0.008 < share(lambda r: r["S1"] != "1") < 0.04
    assert {r["S1"] for r in rs} == {"1", "2", ""}
    assert share(lambda r: r["SurveyID"] == "") > 0.001
    assert share(lambda r: r["SurveyID"] in UNKNOWN_SURVEY_IDS) > 0
    assert share(lambda r: r["token"] == "") > 0

    def answered(r):
        return sum(
            1
            for c, v in r.items()
            if c not in META and not c.startswith(("Q_", "QState_", "QCity_")) and v != ""
        )

    assert 0.01 < share(lambda r: answered(r) <= 1 and r["S1"] == "1") < 0.06
    # a token starting with '-' is exported as '-…; no bare leading '-'
    assert 0.003 < share(lambda r: r["token"].startswith("'-")) < 0.03
    assert not any(r["token"].startswith("-") for r in rs)

    def span(r, a="StartDate", b="RecordedDate") -> float:
        z = "America/Los_Angeles"
        return instant(r[b], z).timestamp() - instant(r[a], z).timestamp()

    def near_dst(r) -> bool:  # a wall-clock time in the repeated hour is ambiguous
        return any(r[c].startswith("2020-11-01") for c in ("StartDate", "RecordedDate"))

    late = [r for r in rs if span(r) >= 86400]
    assert 0.01 < len(late) / n < 0.05 and all(span(r) <= 4 * 86400 for r in late)
    abandoned = [r for r in rs if r["Finished"] == "0"]
    assert abandoned and all(r["Progress"] != "100" for r in abandoned)
    assert all(span(r) == 4 * 3600 for r in abandoned if not near_dst(r))

    # forwarded links: 2-5 responses share a token; sometimes the first starter is recorded last
    by_token = defaultdict(list)
    for r in rs:
        if r["token"]:
            by_token[r["token"]].append(r)
    groups = [g for g in by_token.values() if len(g) > 1]
    assert groups and all(2 <= len(g) <= 5 for g in groups)
    assert 0.002 < sum(len(g) for g in groups) / n < 0.03

    def key(r, col):
        return instant(r[col], "America/Los_Angeles").timestamp()

    def original_recorded_last(g):
        first = min(g, key=lambda r: key(r, "StartDate"))
        return any(key(r, "RecordedDate") < key(first, "RecordedDate") for r in g)

    assert any(original_recorded_last(g) for g in groups)


def test_answers_look_like_qualtrics(responses):
    rs = list(responses.values())
    values = defaultdict(set)
    for r in rs:
        for c, v in r.items():
            values[c].add(v)
    assert any("," in v for v in values["B2"]) and any("," in v for v in values["C1"])
    assert {"anonymous", "preview"} == values["DistributionChannel"]
    assert {"EN", "ES"} <= values["UserLanguage"]
    zips = values["A3"] - {""}
    assert any(re.fullmatch(r"0\d{4}", z) for z in zips)
    assert any(re.fullmatch(r"\d{9}", z) for z in zips)
    assert any(re.fullmatch(r"\d{5}-\d{4}", z) for z in zips)
    number = re.compile(r"-?\d+(\.\d+)?")
    for col in NUMERIC:
        present = values[col] - {""}
        assert any(re.fullmatch(r"\d+", v) for v in present), col
    numerics = set().union(*(values[c] for c in NUMERIC | {"A4"})) - {""}
    assert any(re.fullmatch(r"\d+\.\d", v) for v in numerics)
    # values of the survey's types: numbers in numeric items (A4 too), codes in choice items,
    # text only in the text answers and the ZIP code
    assert all(number.fullmatch(v) for v in numerics), sorted(numerics)
    codes = re.compile(r"\d+(,\d+)*")
    for col in set(values) - META - NUMERIC - {"A4", "A3", "B2_14_TEXT", "D1_4_TEXT"}:
        if not col.startswith(("Q_", "QState_", "QCity_")):
            assert all(codes.fullmatch(v) for v in values[col] - {""}), col
    texts = (values["B2_14_TEXT"] | values["D1_4_TEXT"]) - {""}
    assert any(t != t.strip() for t in texts) and any("  " in t.strip() for t in texts)
    assert values["QState_A3"] & {"CA", "NY"} and values["QState_A3"] & {"PR", "GU", "ON", "BC"}
    assert values["Q_TerminateFlag"] == {"", "Screened"}
    times = values["StartDate"] | values["RecordedDate"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in times)


def test_quoting_and_missing_value_options_change_only_the_spelling(tmp_path):
    base = generate_panel(tmp_path / "base", START, 2, 150, seed=5)
    na = generate_panel(tmp_path / "na", START, 2, 150, seed=5, na_token="NA")
    minimal = generate_panel(tmp_path / "min", START, 2, 150, seed=5, quoting="minimal")
    assert [p.name for p in base] == [p.name for p in na] == [p.name for p in minimal]
    for b, n, m in zip(base, na, minimal, strict=True):
        rb, rn, rm = read(b), read(n), read(m)
        assert rb[:3] == rn[:3] == rm[:3]
        assert rb[3] == rm[3]
        assert [[("" if v == "NA" else v) for v in row] for row in rn[3]] == rb[3]
        assert ",NA," in n.read_text(encoding="utf-8")
        assert not any(v == "" for row in rn[3] for v in row)
    # the NA style quotes text but not numbers, like the fixture
    body = na[0].read_text(encoding="utf-8").split("\n")
    assert any(re.search(r'"R_\w{15}","anonymous"', line) for line in body)
    assert any(re.search(r",1,[12],[12],", line) for line in body)


def test_the_pipeline_reader_parses_every_export(files):
    from pipeline.panel.qualtrics import START as START_UTC
    from pipeline.panel.qualtrics import parse_export

    waves = {v: k for k, v in SURVEY_IDS.items()}
    starts: dict[str, int] = {}
    for f in files:
        parsed = parse_export(f.read_bytes(), f.name, waves)
        assert len(parsed.frame) == len(read(f)[3])
        for rid, s in zip(parsed.frame["ResponseId"], parsed.frame[START_UTC], strict=True):
            assert starts.setdefault(rid, int(s)) == int(s)  # the UTC export agrees


@pytest.mark.parametrize(("days", "per_day"), [(1, 1), (1, 7), (2, 10)])
def test_tiny_runs_still_write_valid_exports(tmp_path, days, per_day):
    paths = generate_panel(tmp_path, "2021-03-13", days, per_day)  # spring-forward weekend
    ids = set()
    for p in paths:
        names, _t, _m, data = read(p)
        assert data and {len(r) for r in data} == {len(names)}
        ids |= {r[names.index("ResponseId")] for r in data}
    assert len(ids) == days * per_day
