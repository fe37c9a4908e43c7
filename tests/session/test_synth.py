"""The synthetic session input: deterministic, realistic, parseable."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.session.ages import age_in_days
from pipeline.session.process import load_drop
from pipeline.session.records import parse_responses, parse_rulings, parse_video_list
from pipeline.session.rules import exit_frames, for_day, is_withdrawn
from pipeline.session.synth import DEFAULT_STUDY_UUID, generate_session
from tests.session.factory import uid

LA = ZoneInfo("America/Los_Angeles")


def _read(paths: list[Path]) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in paths}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first = _read(generate_session(tmp_path / "a", date(2024, 5, 1), 3, 8, seed=11))
    second = _read(generate_session(tmp_path / "b", date(2024, 5, 1), 3, 8, seed=11))
    assert first == second
    other = _read(generate_session(tmp_path / "c", date(2024, 5, 1), 3, 8, seed=12))
    assert other.keys() & first.keys()
    assert other["responses_2024_05_01.json"] != first["responses_2024_05_01.json"]


def test_file_names_and_days(synth_files: dict[str, bytes]) -> None:
    days = [f"2024_03_0{d}" for d in range(1, 7)]
    assert sorted(n for n in synth_files if n.startswith("responses_")) == [
        f"responses_{d}.json" for d in days
    ]
    assert sorted(n for n in synth_files if n.startswith("videos_")) == [
        f"videos_{d}.txt" for d in days
    ]
    rulings = sorted(n for n in synth_files if n.startswith("consent_rulings_"))
    assert rulings[0] == "consent_rulings_2024_03_02.csv"  # never on the first day
    assert rulings[-1] > "consent_rulings_2024_03_06.csv"  # some after the last response day
    assert set(synth_files) == {
        *(f"responses_{d}.json" for d in days),
        *(f"videos_{d}.txt" for d in days),
        *rulings,
    }


def test_everything_parses_and_rulings_arrive_later(synth_files: dict[str, bytes]) -> None:
    drop = load_drop(synth_files, DEFAULT_STUDY_UUID)
    assert drop.errors == [] and drop.ignored == []
    assert len(drop.records) == 6 * 15
    day_of = {r["response"]["uuid"]: for_day(r) for r in drop.records}
    for name, data in synth_files.items():
        if name.startswith("responses_"):
            stamp = datetime.strptime(name[10:20], "%Y_%m_%d").date()
            assert {for_day(r) for r in parse_responses(data, name)} == {stamp}
        if name.startswith("consent_rulings_"):
            arrived = datetime.strptime(name[16:26], "%Y_%m_%d").date()
            for ruling in parse_rulings(data, name):
                assert ruling.created_at.astimezone(LA).date() == arrived
                assert arrived > day_of[ruling.response_uuid]
        if name.startswith("videos_"):
            stamp = datetime.strptime(name[7:17], "%Y_%m_%d").date()
            videos = parse_video_list(data, name)
            assert videos and {day_of[v.response_uuid] for v in videos} == {stamp}
            assert {v.study_uuid for v in videos} == {DEFAULT_STUDY_UUID}


def test_realistic_mix(synth_files: dict[str, bytes], synth_records: list[dict]) -> None:
    responses = [r["response"] for r in synth_records]
    assert any(r["is_preview"] for r in responses)
    assert any(not r["completed_consent_frame"] for r in responses)
    assert any(not r["completed"] for r in responses)
    assert any(r["global_event_timings"] for r in responses)
    assert any(is_withdrawn(r) for r in synth_records)
    assert any(
        "formData" in f and f["eventTimings"] for r in responses for f in r["exp_data"].values()
    )
    exits = [f for r in responses for f in r["exp_data"].values() if f.get("frameType") == "EXIT"]
    assert exits and all("birthDate" in f for f in exits)
    children = Counter(r["child"]["global_id"] for r in synth_records)
    assert max(children.values()) >= 2  # repeat visits
    families = {r["participant"]["global_id"]: set() for r in synth_records}
    for r in synth_records:
        families[r["participant"]["global_id"]].add(r["child"]["global_id"])
    assert max(len(kids) for kids in families.values()) >= 2  # siblings
    ages = [
        age_in_days(r["response"]["date_created"], r["child"]["birthday"]) for r in synth_records
    ]
    assert min(ages) < 360 < max(ages) and max(ages) > 1000
    history: dict[str, list[str]] = {}
    for name in sorted(synth_files):
        if name.startswith("consent_rulings_"):
            for ruling in sorted(
                parse_rulings(synth_files[name], name), key=lambda x: x.created_at
            ):
                history.setdefault(ruling.response_uuid, []).append(ruling.action)
    patterns = Counter(tuple(actions) for actions in history.values())
    assert patterns[("accepted",)] > patterns[("rejected",)] > 0
    assert patterns[("pending", "accepted")] > 0
    assert sum(n for p, n in patterns.items() if p[-1] == "accepted") > len(history) / 2


def test_study_uuid_and_name_are_used(tmp_path: Path) -> None:
    study = uid("another study")
    paths = generate_session(
        tmp_path, date(2024, 1, 1), 1, 4, seed=1, study_uuid=study, study_name="Other"
    )
    files = _read(paths)
    records = parse_responses(files["responses_2024_01_01.json"], "r.json", study)
    assert {r["study"]["name"] for r in records} == {"Other"}
    assert {v.study_uuid for v in parse_video_list(files["videos_2024_01_01.txt"], "v")} <= {study}


def test_cli_synth_writes_the_platforms_newer_fields(tmp_path: Path) -> None:
    """``synth --kind session`` records carry eligibility, the parent's feedback, the
    researcher fields, conditions in the platform's mapping form and sometimes two exit
    frames; only values the platform can hold (its choices)."""
    from pipeline.cli import main

    out = tmp_path / "raw"
    assert main(["synth", "--kind", "session", "--out", str(out), "--start", "2024-03-01",
                 "--days", "4", "--per-day", "20", "--seed", "3"]) == 0  # fmt: skip
    records = [
        r for p in sorted(out.glob("*.json")) for r in parse_responses(p.read_bytes(), p.name)
    ]
    responses = [r["response"] for r in records]
    assert len(responses) == 80
    assert all(isinstance(r["eligibility"], list) and r["eligibility"] for r in responses)
    assert Counter(tuple(r["eligibility"]) for r in responses)[("Eligible",)] > 40
    assert any(r["eligibility"] != ["Eligible"] for r in responses)
    assert {type(r["conditions"]) for r in responses} == {dict}
    assert any(r["researcher_star"] for r in responses)
    payment = {r["researcher_payment_status"] for r in responses}
    session = {r["researcher_session_status"] for r in responses}
    assert len(payment) > 1 and len(session) > 1
    # the platform's choices (lookit-api Response.PAYMENT/SESSION_STATUS_CHOICES)
    assert payment <= {"", "review", "to_pay", "do_not_pay", "paid"}
    assert session <= {
        "", "to_schedule", "scheduled", "session_attended", "session_complete", "follow_up",
        "communication_complete", "withdrawn_closed",
    }  # fmt: skip
    assert {r["eligibility"][0] for r in responses} <= {
        "Eligible", "Ineligible_TooYoung", "Ineligible_TooOld", "Ineligible_CriteriaExpression",
        "Ineligible_Participation",
    }  # fmt: skip
    children = [r["child"] for r in records]
    gestational = {f"{n} weeks" for n in range(24, 40)}
    gestational |= {"40 or more weeks", "Under 24 weeks", "Not sure or prefer not to answer"}
    assert {c["age_at_birth"] for c in children} <= gestational
    assert {c["gender"] for c in children} <= {"m", "f", "o", "na"}
    languages = {"en", "es", "fr", "cmn"}  # a few of the platform's codes, in its order
    assert all(set(c["language_list"].split()) <= languages for c in children)
    assert all(c["language_list"].split()[0] == "en" for c in children)
    demographics = [r["demographic"] for r in records]
    assert {d["number_of_guardians"] for d in demographics} <= {"1", "2", "3", "varies"}
    race = {"white", "hisp", "black", "asian", "native", "mideast-naf", "hawaiian-pac-isl", "other"}
    assert all(set(d["us_race_ethnicity_identification"]) <= race for d in demographics)
    twice = [r for r in records if len(exit_frames(r)) == 2]
    assert twice, "some parents answer the exit survey twice"
    for record in records:
        frames = exit_frames(record)
        # the platform's export carries the last exit frame's feedback
        want = frames[-1][1]["feedback"] if frames else None
        assert record["response"]["parent_feedback"] == want
    assert any(r["parent_feedback"] for r in responses)
