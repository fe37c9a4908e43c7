"""Session studies end to end through the CLI (SPEC §4, §8): nightly deliveries of synthetic
platform exports, the published files, privacy of the default outputs, identifying columns,
quarantine, configuration errors, the hashed-ID collision check, the cross-study ID map and
the SFTP source. Each test checks the published files against an independent reading of
the raw input (tests/session_study.py), not against the pipeline's own helpers."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipeline import checksums
from pipeline.cli import main
from pipeline.locations.local import LocalLocation
from pipeline.session.hashing import hash_id
from pipeline.session.synth import generate_session
from tests.session_study import (
    SLUG,
    START,
    STUDY_UUID,
    SessionStudy,
    expected_published,
    files_of_day,
    for_day,
    newest_ruling_rows,
    night_clock,
    raw_records,
    raw_rulings,
    rulings_in_force,
)

SALT = "5c0f4b7e-9a51-4d1e-8f0b-2a8e5d3c6b11"
OTHER_SALT = "a41d2c6e-3b7f-4e8a-9c5d-1f2e3d4c5b6a"
OTHER_STUDY = "7d3e9a10-55c2-4b8e-a1f0-6c2d9e8b7a34"

DEFAULT_FILES = sorted(
    [
        "OUTAGES.txt",
        "SHA256SUMS",
        f"{SLUG}--psychds.zip",
        f"{SLUG}_all-children-dict.csv",
        f"{SLUG}_all-children.csv",
        f"{SLUG}_all-demographic-snapshots-dict.csv",
        f"{SLUG}_all-demographic-snapshots.csv",
        f"{SLUG}_all-demographic-snapshots.json",
        f"{SLUG}_all-frames-dict.csv",
        f"{SLUG}_all-frames.csv.gz",
        f"{SLUG}_all-responses-dict.csv",
        f"{SLUG}_all-responses.csv",
        f"{SLUG}_all-responses.json",
        f"{SLUG}_framedata_per_session.zip",
        f"{SLUG}_videos.csv",
    ]
)
IDENTIFIABLE_FILES = sorted(
    [
        "OUTAGES.txt",
        "SHA256SUMS",
        f"{SLUG}--psychds.zip",
        f"{SLUG}_all-children-dict.csv",
        f"{SLUG}_all-children-identifiable.csv",
        f"{SLUG}_all-demographic-snapshots-dict.csv",
        f"{SLUG}_all-demographic-snapshots.csv",
        f"{SLUG}_all-demographic-snapshots.json",
        f"{SLUG}_all-frames-dict.csv",
        f"{SLUG}_all-frames.csv.gz",
        f"{SLUG}_all-responses-dict.csv",
        f"{SLUG}_all-responses-identifiable.csv",
        f"{SLUG}_all-responses-identifiable.json",
        f"{SLUG}_framedata_per_session.zip",
        f"{SLUG}_videos.csv",
    ]
)
FINAL_CLOCK = night_clock(7)


def _not_runs(names: list[str]) -> list[str]:
    return [n for n in names if not n.startswith("runs/")]


def _one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    for needle in needles:
        assert needle in err, err
    return err


def _raw(tmp_path: Path, days: int = 4, per_day: int = 12, seed: int = 11, **kw) -> list[Path]:
    return generate_session(tmp_path / "raw", START, days=days, per_day=per_day, seed=seed, **kw)


def _one_shot(root: Path, raw: list[Path], **session) -> SessionStudy:
    """A study given every raw file at once and run once."""
    study = SessionStudy(root, session=session or None)
    study.deliver(raw)
    assert study.run(FINAL_CLOCK) == 0
    return study


def _late_accepted(raw: list[Path]) -> tuple[str, str]:
    """A published response first ruled `pending`, then `accepted` in a later rulings file:
    (response uuid, name of the file with the acceptance)."""
    rows = raw_rulings(raw)
    final = expected_published(raw)
    for uid in sorted(final):
        mine = sorted((r for r in rows if r["response_uuid"] == uid), key=lambda r: r["file"])
        if len(mine) == 2 and mine[0]["action"] == "pending" and mine[1]["action"] == "accepted":
            if mine[0]["file"] < mine[1]["file"]:
                return uid, mine[1]["file"]
    raise AssertionError("the synthetic drop has no late acceptance after a pending ruling")


# --------------------------------------------------------------------------- 1. nights


def test_nightly_deliveries_publish_consented_responses_and_late_rulings(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path)
    records = {r["response"]["uuid"]: r for r in raw_records(raw)}
    late, late_file = _late_accepted(raw)
    late_day = date.fromisoformat(late_file[-14:-4].replace("_", "-"))
    late_night = (late_day - START).days
    assert 1 <= late_night <= 6

    study = SessionStudy(tmp_path / "study")
    delivered: list[Path] = []
    published: list[set[str]] = []
    previous_days: dict[str, set[str]] = {}
    previous_files: dict[str, bytes] = {}
    last = max(date.fromisoformat(p.stem[-10:].replace("_", "-")) for p in raw)
    nights = (last - START).days + 1
    assert 5 <= nights <= 7  # responses of 4 days, rulings arriving up to 3 days later
    for night in range(nights):
        today = files_of_day(raw, START + timedelta(days=night))
        assert today, f"nothing generated for night {night}"
        study.deliver(today)
        delivered += today
        assert study.run(night_clock(night)) == 0

        # exactly the study-wide files of SPEC §4.3 (no -identifiable), plus one manifest a night
        names = study.files()
        assert _not_runs(names) == DEFAULT_FILES
        assert len([n for n in names if n.startswith("runs/") and n.endswith(".json")]) == night + 1

        # CSV and JSON carry the same responses, exactly the consented ones delivered so far
        in_csv, in_json = study.response_uuids()
        want = expected_published(delivered)
        assert in_csv == in_json == want
        published.append(want)

        # the manifest names the `for` days whose published responses changed tonight
        m = study.manifest()
        assert m["recorded"] == (START + timedelta(days=night + 1)).isoformat()
        assert m["responses"] == len({r["response"]["uuid"] for r in raw_records(delivered)})
        assert m["published_responses"] == len(want)
        assert sum(m["excluded_by_reason"].values()) == m["responses"] - len(want)
        days: dict[str, set[str]] = {}
        for uid in want:
            days.setdefault(for_day(records[uid]), set()).add(uid)
        changed = sorted(d for d in days.keys() | previous_days.keys()
                         if days.get(d) != previous_days.get(d))  # fmt: skip
        assert m["days_changed"] == changed, night
        previous_days = days
        assert sorted(i["path"].rsplit("/", 1)[-1] for i in m["inputs"]) == sorted(
            p.name for p in today
        )
        assert m["quarantined"] == [] and m["hashed_id_collisions"] == []
        # "published" = the files whose bytes changed tonight (the manifest and SHA256SUMS
        # are written after it), and their bytes were all that was uploaded before it
        files_now = study.study_files()
        resent = sorted(n for n, data in files_now.items() if previous_files.get(n) != data)
        assert sorted(m["published"]) == resent
        assert m["bytes_uploaded"] == sum(len(files_now[n]) for n in resent)
        previous_files = files_now

        # the SHA256SUMS files (one per folder) cover every other file with its real hash
        sums = checksums.read(LocalLocation(study.pub))
        assert sorted(sums) == [n for n in names if not checksums.is_sums(n)]
        for name, sha in sums.items():
            assert hashlib.sha256(study.read(name)).hexdigest() == sha, name

    # nothing is published before the first ruling arrives (night 0 has no rulings yet)
    assert published[0] == set() and study.manifests()[0]["excluded_by_reason"]["no_ruling"] > 0
    # the late acceptance: absent while pending, present from the night its ruling arrives
    for night, uids in enumerate(published):
        assert (late in uids) == (night >= late_night), night
    manifests = study.manifests()
    assert for_day(records[late]) in manifests[late_night]["days_changed"]
    assert for_day(records[late]) < late_day.isoformat()
    assert manifests[late_night - 1]["excluded_by_reason"].get("pending", 0) >= 1

    # a night with nothing new: no study file is re-sent (same bytes, same mtime)
    before = {n: ((study.pub / n).stat().st_mtime_ns, study.read(n)) for n in study.files()}
    assert study.run(FINAL_CLOCK) == 0
    after = study.files()
    new = sorted(set(after) - set(before))
    assert len(new) == 1 and new[0].startswith(f"runs/{FINAL_CLOCK[:10].replace('-', '_')}_")
    for name, (mtime, data) in before.items():
        if name != "runs/SHA256SUMS":  # it lists the new manifest; the root's is unchanged
            assert (study.pub / name).stat().st_mtime_ns == mtime, name
            assert study.read(name) == data, name
    m = study.manifest()
    assert m["published"] == [] and m["bytes_uploaded"] == 0
    assert m["inputs"] == [] and m["days_changed"] == [] and m["quarantined"] == []
    assert m["published_responses"] == len(published[-1])
    # the only change: the new manifest, listed in runs/SHA256SUMS
    assert new[0].removeprefix("runs/") in study.read("runs/SHA256SUMS").decode()

    # delivering the same week at once gives byte-identical study files
    once = _one_shot(tmp_path / "once", raw)
    assert once.study_files() == study.study_files()


# --------------------------------------------------------------------------- 2. privacy


def test_default_outputs_hold_no_identifying_value(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, seed=5)
    study = _one_shot(tmp_path / "study", raw)
    assert _not_runs(study.files()) == DEFAULT_FILES
    shown = expected_published(raw)
    assert len(shown) >= 15

    secrets: dict[str, str] = {}
    global_ids: list[tuple[str, str]] = []
    for record in raw_records(raw):
        if record["response"]["uuid"] not in shown:
            continue  # only published responses could leak
        child, parent, demo = record["child"], record["participant"], record["demographic"]
        for what, value in (
            ("participant global id", parent["global_id"]),
            ("child global id", child["global_id"]),
            ("demographic uuid", demo["uuid"]),
            ("child name", child["name"]),
            ("birthday", child["birthday"]),
            ("nickname", parent["nickname"]),
            ("additional_information", child["additional_information"]),
        ):
            if value and len(value) > 4:
                secrets[value] = what
        global_ids += [(parent["global_id"], "participant"), (child["global_id"], "child")]
    for gid, whose in global_ids:  # other spellings of a UUID
        secrets[gid.replace("-", "")] = f"{whose} global id without dashes"
        secrets[gid.upper()] = f"{whose} global id in upper case"
    kinds = set(secrets.values())
    assert {"child name", "birthday", "nickname", "additional_information"} <= kinds

    outputs = study.all_bytes()
    assert any(".zip!" in name for name in outputs), "the frame-data ZIP has no members"
    assert f"{SLUG}_all-frames.csv.gz!" in outputs
    leaks = [
        f"{what} {value!r} in {name}"
        for name, data in outputs.items()
        for value, what in secrets.items()
        if value.encode("utf-8") in data
    ]
    assert leaks == []
    header = study.csv_header(f"{SLUG}_all-responses.csv")
    for column in ("child__age_in_days", "child__birthday", "child__name", "participant__nickname"):
        assert column not in header
    assert {"child__hashed_id", "participant__hashed_id", "child__age_rounded"} <= set(header)

    # the free text the platform publishes is there, and its dictionary says to redact it
    records = {r["response"]["uuid"]: r for r in raw_records(raw)}
    demo_rows = study.csv_rows(f"{SLUG}_all-demographic-snapshots.csv")
    for row in demo_rows:
        raw_demo = records[row["response__uuid"]]["demographic"]
        assert row["demographic__additional_comments"] == raw_demo["additional_comments"]
        assert row["demographic__lookit_referrer"] == raw_demo["lookit_referrer"]
    ruled = newest_ruling_rows(raw_rulings(raw))
    for row in study.csv_rows(f"{SLUG}_all-responses.csv"):
        assert row["consent__comment"] == ruled[row["response__uuid"]]["comment"]
    for name, columns in (
        (f"{SLUG}_all-responses-dict.csv", ("consent__comment", "response__parent_feedback")),
        (
            f"{SLUG}_all-demographic-snapshots-dict.csv",
            ("demographic__additional_comments", "demographic__lookit_referrer", "response__uuid"),
        ),
    ):
        described = dict(csv.reader(io.StringIO(study.read(name).decode())))
        for column in columns:
            assert "MUST BE REDACTED" in described[column], (name, column)


# --------------------------------------------------------------------------- 3. identifying


def test_identifying_birthday_marks_the_files_and_adds_the_column(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, days=3, seed=5)
    study = _one_shot(tmp_path / "study", raw, identifying=["child__birthday"])
    assert _not_runs(study.files()) == IDENTIFIABLE_FILES
    records = {r["response"]["uuid"]: r for r in raw_records(raw)}

    rows = study.csv_rows(f"{SLUG}_all-responses-identifiable.csv")
    assert {r["response__uuid"] for r in rows} == expected_published(raw) and rows
    for row in rows:
        raw_child = records[row["response__uuid"]]["child"]
        assert row["child__birthday"] == raw_child["birthday"]
        assert row["child__hashed_id"] == hash_id(raw_child["global_id"], STUDY_UUID, SALT, 6)
    header = set(study.csv_header(f"{SLUG}_all-responses-identifiable.csv"))
    assert not header & {"child__name", "child__global_id", "participant__global_id",
                         "participant__nickname", "child__age_in_days",
                         "child__additional_information"}  # fmt: skip
    nested = json.loads(study.read(f"{SLUG}_all-responses-identifiable.json"))
    assert all(r["child"]["birthday"] == records[r["response"]["uuid"]]["child"]["birthday"]
               for r in nested)  # fmt: skip
    assert "child__birthday" in study.csv_header(f"{SLUG}_all-children-identifiable.csv")
    described = dict(csv.reader(io.StringIO(study.read(f"{SLUG}_all-responses-dict.csv").decode())))
    assert "REDACTED" in described["child__birthday"]


# --------------------------------------------------------------------------- 4. quarantine


def test_malformed_json_is_quarantined_and_the_rest_publishes(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, days=3, seed=2)
    good = copy.deepcopy(raw_records(raw)[0])
    good["response"]["uuid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "quarantined-record"))
    good["response"]["completed_consent_frame"] = True
    good["response"]["is_preview"] = False
    text = json.dumps([good, good], indent=2)
    broken = text[: text.rindex("{", 0, len(text) - 40)] + '{"response": {"uuid": '
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "responses_broken.json").write_text(broken)
    # an acceptance of the broken file's one good record: none of its records may be used
    (extra / "consent_extra.csv").write_text(
        "response_uuid,action,arbiter,created_at,comment\n"
        f"{good['response']['uuid']},accepted,jrivera,2024-03-04T17:00:00.000Z,\n"
    )
    study = SessionStudy(tmp_path / "study")
    study.deliver(raw)
    study.deliver(sorted(extra.iterdir()))
    assert study.run(FINAL_CLOCK) == 0

    assert _not_runs(study.files()) == DEFAULT_FILES
    in_csv, in_json = study.response_uuids()
    assert in_csv == in_json == expected_published(raw)
    assert good["response"]["uuid"] not in in_csv and in_csv

    kept = sorted((study.archive / "quarantine").glob("*responses_broken.json"))
    assert len(kept) == 1 and kept[0].read_bytes() == broken.encode()
    error = kept[0].with_name(kept[0].name + ".error.txt").read_text()
    assert "responses_broken.json" in error and "record 2" in error and " column " in error
    assert "not JSON: Expecting value: line " in error  # the decoder's place, whole
    outages = study.read("OUTAGES.txt").decode()
    assert outages.count("  NOTICE  for:") == 2
    assert "responses_broken.json" in outages and "record 2" in outages
    # the acceptance of a response never received (its file is quarantined): kept, reported
    assert "consent_extra.csv: 1 consent ruling(s) on a response never received" in outages
    m = study.manifest()
    assert m["quarantined"] == ["responses_broken.json"]
    status = {i["path"].rsplit("/", 1)[-1]: i["status"] for i in m["inputs"]}
    assert status["responses_broken.json"] == "quarantined"
    assert status["consent_extra.csv"] == "applied"

    assert m["rulings_without_response"] == 1
    # the next night neither re-reads it nor repeats the notices
    assert study.run(night_clock(8)) == 0
    assert study.read("OUTAGES.txt").decode().count("  NOTICE  for:") == 2
    assert study.manifest()["quarantined"] == [] and study.manifest()["inputs"] == []


# --------------------------------------------------------------------------- 5. salt


def test_missing_salt_is_a_configuration_error_and_publishes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("STUDY_SALT", raising=False)
    raw = _raw(tmp_path, days=2, seed=4)
    study = SessionStudy(tmp_path / "study")
    study.deliver(raw)
    capsys.readouterr()
    assert study.run(FINAL_CLOCK) == 2
    _one_line_error(capsys, "STUDY_SALT")
    assert study.files() == []

    # the failed run ingested nothing: with the salt set, everything publishes
    monkeypatch.setenv("STUDY_SALT", SALT)
    assert study.run(FINAL_CLOCK) == 0
    in_csv, _ = study.response_uuids()
    assert in_csv == expected_published(raw) and in_csv
    assert len(study.manifest()["inputs"]) == len(raw)


# --------------------------------------------------------------------------- 6. collisions


def test_hashed_id_collisions_hold_publication(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, days=3, seed=9)
    study = SessionStudy(tmp_path / "study", session={"hash_digits": 1})
    study.deliver(raw)
    capsys.readouterr()
    assert study.run(FINAL_CLOCK) == 3
    _one_line_error(capsys, "publication held")
    assert study.files() == ["OUTAGES.txt", "SHA256SUMS"]  # no study file, no manifest
    outages = study.read("OUTAGES.txt").decode()
    assert outages.count("  DELAY  for:") == 1 and "hashed-ID collision" in outages

    # more digits: the run publishes, and the DELAY entry stays on record
    study.write_config(hash_digits=8)
    assert study.run(FINAL_CLOCK) == 0
    assert _not_runs(study.files()) == DEFAULT_FILES
    assert study.manifest()["hashed_id_collisions"] == []
    assert study.read("OUTAGES.txt").decode().count("  DELAY  for:") == 1
    rows = study.csv_rows(f"{SLUG}_all-children.csv")
    assert rows and all(len(r["child__hashed_id"]) == 8 for r in rows)


# --------------------------------------------------------------------------- 7. idmap


def test_idmap_maps_children_consented_in_both_studies(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUDY_SALT", SALT)
    monkeypatch.setenv("OTHER_SALT", OTHER_SALT)
    raw_a = _raw(tmp_path / "a", days=3, seed=21)
    raw_b = _raw(tmp_path / "b", days=2, seed=22, study_uuid=OTHER_STUDY, study_name="Other")
    a = SessionStudy(tmp_path / "study_a")
    a.deliver(raw_a)
    b = SessionStudy(
        tmp_path / "study_b",
        session={"study_uuid": OTHER_STUDY, "study_name": "Other", "salt_env": "OTHER_SALT"},
    )
    b.deliver(raw_b)

    # study B also saw some children of study A: copies of A's records with B's study uuid
    # and new response uuids; B accepts all but the last copy
    copies, rulings = [], ["response_uuid,action,arbiter,created_at,comment"]
    sample = raw_records(raw_a)[::4][:8]
    for n, record in enumerate(sample):
        twin = copy.deepcopy(record)
        twin["study"] = {"uuid": OTHER_STUDY, "name": "Other"}
        twin["response"]["uuid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"twin-{n}"))
        twin["response"]["completed_consent_frame"] = True
        twin["response"]["is_preview"] = False
        copies.append(twin)
        action = "rejected" if n == len(sample) - 1 else "accepted"
        rulings.append(f"{twin['response']['uuid']},{action},mchen,2024-03-05T18:00:00.000Z,")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "responses_shared.json").write_text(json.dumps(copies, indent=2))
    (extra / "consent_shared.csv").write_text("\n".join(rulings) + "\n")
    b.deliver(sorted(extra.iterdir()))
    raw_b = [*raw_b, *sorted(extra.iterdir())]

    def consented_children(raw: list[Path]) -> set[str]:
        shown = expected_published(raw)
        return {r["child"]["global_id"] for r in raw_records(raw) if r["response"]["uuid"] in shown}

    shared = consented_children(raw_a) & consented_children(raw_b)
    copied = {r["child"]["global_id"] for r in sample}
    assert 2 <= len(shared) < len(copied)  # some copied children are not in the map

    out = tmp_path / "map.csv"
    capsys.readouterr()
    assert main(["idmap", "--config", str(a.config), "--other", str(b.config),
                 "--out", str(out)]) == 0  # fmt: skip
    assert f"{len(shared)} shared children" in capsys.readouterr().out
    lines = out.read_text().splitlines()
    assert lines[0] == "Study_1_ID,Study_2_ID"
    want = sorted(
        f"{hash_id(g, STUDY_UUID, SALT, 6)},{hash_id(g, OTHER_STUDY, OTHER_SALT, 6)}"
        for g in shared
    )
    assert sorted(lines[1:]) == want and len(set(want)) == len(shared)

    # the hashed IDs are those each study publishes for the same children
    assert a.run(FINAL_CLOCK) == 0 and b.run(FINAL_CLOCK) == 0
    ids_a = {r["child__hashed_id"] for r in a.csv_rows(f"{SLUG}_all-children.csv")}
    ids_b = {r["child__hashed_id"] for r in b.csv_rows("Other_all-children.csv")}
    for line in lines[1:]:
        one, two = line.split(",")
        assert one in ids_a and two in ids_b


def test_records_of_another_study_are_set_aside(tmp_path, monkeypatch):
    """The drop of one study must not feed another: study.uuid is checked per record, and
    the records of another study are set aside one by one (the files are JSON)."""
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path / "other", days=1, seed=3, study_uuid=OTHER_STUDY)
    study = SessionStudy(tmp_path / "study")
    study.deliver(raw)
    assert study.run(FINAL_CLOCK) == 0
    m = study.manifest()
    assert m["quarantined"] == [] and m["records_set_aside"] == len(raw_records(raw)) > 0
    assert m["rulings_without_response"] == len(raw_rulings(raw))
    assert study.response_uuids() == (set(), set())
    outages = study.read("OUTAGES.txt").decode()
    assert "is not this study" in outages and OTHER_STUDY not in outages


def test_a_bad_record_is_set_aside_and_its_file_goes_through(tmp_path, monkeypatch):
    """One non-UUID child global_id costs its record, not its file; a ruling on a response
    never received is kept and reported; unknown keys are counted (SPEC §6)."""
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, days=3, seed=2)
    want = expected_published(raw)
    target = sorted(p for p in raw if p.suffix == ".json")[0]
    records = json.loads(target.read_text())
    number = next(n for n, r in enumerate(records, 1) if r["response"]["uuid"] in want)
    bad = records[number - 1]
    bad["child"]["global_id"] = "kid-7 Emma"
    records[-1]["response"]["new_platform_field"] = 1  # counted, never named
    records[-1]["response"]["withdrawn"] = False  # a platform field name: named
    text = json.dumps(records, indent=2)
    target.write_text(text)
    line = [n for n, t in enumerate(text.splitlines(), 1) if t == "  {"][number - 1]
    never = str(uuid.uuid5(uuid.NAMESPACE_URL, "never-received"))
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "consent_orphan.csv").write_text(
        "response_uuid,action,arbiter,created_at,comment\n"
        f"{never},accepted,jrivera,2024-03-04T17:00:00.000Z,\n"
    )
    study = SessionStudy(tmp_path / "study")
    study.deliver(raw)
    study.deliver(sorted(extra.iterdir()))
    assert study.run(FINAL_CLOCK) == 0

    assert study.response_uuids()[0] == want - {bad["response"]["uuid"]} != set()
    m = study.manifest()
    assert m["quarantined"] == [] and m["records_set_aside"] == 1
    assert m["set_aside"] == [
        f"{target.name}, record {number}, line {line}: child.global_id is not a UUID"
    ]
    on_bad = [r for r in raw_rulings(raw) if r["response_uuid"] == bad["response"]["uuid"]]
    assert m["rulings_without_response"] == 1 + len(on_bad)  # set aside: not received
    assert m["unknown_key_names"] == {"(other)": 1, "response.withdrawn": 1}
    assert m["unknown_keys"] == sum(m["unknown_key_names"].values()) == 2
    status = {i["path"].rsplit("/", 1)[-1]: i["status"] for i in m["inputs"]}
    assert status[target.name] == status["consent_orphan.csv"] == "applied"
    outages = study.read("OUTAGES.txt").decode()
    ruling_files = {r["file"] for r in on_bad} | {"consent_orphan.csv"}
    assert outages.count("  NOTICE  for:") == 1 + len(ruling_files)  # one per file
    assert f"{target.name}: 1 record(s) set aside" in outages
    assert f"record {number}, line {line}: child.global_id is not a UUID" in outages
    assert "consent_orphan.csv: 1 consent ruling(s) on a response never received" in outages
    for secret in ("kid-7", "Emma", never, bad["response"]["uuid"]):
        assert secret not in outages and secret not in json.dumps(m), secret
    kept = sorted((study.archive / "quarantine").glob(f"*{target.name}"))
    assert len(kept) == 1 and kept[0].read_bytes() == text.encode()
    listed = kept[0].with_name(kept[0].name + ".error.txt").read_text()
    assert listed == m["set_aside"][0] + "\n"

    # kept, not forgotten: the ruling applies once its response arrives; nothing repeats
    late = copy.deepcopy(bad)
    late["response"]["uuid"], late["child"]["global_id"] = never, str(uuid.uuid4())
    late["response"]["completed_consent_frame"], late["response"]["is_preview"] = True, False
    study.drop.joinpath("responses_late.json").write_text(json.dumps([late]))
    assert study.run(night_clock(8)) == 0
    assert never in study.response_uuids()[0]
    again = study.manifest()
    assert again["records_set_aside"] == again["rulings_without_response"] == 0
    assert study.read("OUTAGES.txt").decode().count("  NOTICE  for:") == outages.count(
        "  NOTICE  for:"
    )


# --------------------------------------------------------------------------- 8. SFTP


def test_sftp_source_publishes_the_same_bytes_as_a_local_drop(tmp_path, monkeypatch, sshd):
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, days=3, per_day=10, seed=13)
    local = SessionStudy(tmp_path / "local")
    remote = SessionStudy(
        tmp_path / "remote",
        source=sshd.url("drop"),
        publish=sshd.url("publish"),
        options={
            "sftp": {
                "known_hosts": sshd.known_hosts,
                "key_file": sshd.key_file,
                "allow_unknown_hosts": False,
                "timeout": 10.0,
                "retries": 4,
            }  # fmt: skip
        },
    )
    assert "sftp://" in remote.config.read_text()
    remote.drop = sshd.root / "drop"  # the server's side of the remote folders
    remote.drop.mkdir()
    remote.pub = sshd.root / "publish"
    sent: set[Path] = set()
    for night in (0, 2, 5):  # three deliveries, so the second and third are incremental
        upto = (START + timedelta(days=night)).strftime("%Y_%m_%d")
        new = sorted(p for p in raw if p.stem[-10:] <= upto and p not in sent)
        sent.update(new)
        local.deliver(new)
        remote.deliver(new)
        assert local.run(night_clock(night)) == 0
        assert remote.run(night_clock(night)) == 0
        assert remote.manifest()["inputs"] == local.manifest()["inputs"] != []

    mine, theirs = local.study_files(), remote.study_files()
    assert sorted(theirs) == sorted(mine) == [n for n in DEFAULT_FILES if n != "SHA256SUMS"]
    for name, data in mine.items():
        assert theirs[name] == data, name
    assert local.response_uuids()[0] == expected_published(raw) != set()
    assert len(remote.manifests()) == 3


# --------------------------------------------------------------------------- regressions


def test_malformed_redelivery_keeps_the_applied_version(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, days=3, seed=2)
    study = _one_shot(tmp_path / "study", raw)
    want = expected_published(raw)
    assert study.response_uuids()[0] == want
    target = study.drop / f"responses_{START.strftime('%Y_%m_%d')}.json"
    target.write_bytes(target.read_bytes()[:-50])  # a truncated copy under the same name
    assert study.run(night_clock(8)) == 0
    assert study.manifest()["quarantined"] == [target.name]
    assert study.response_uuids()[0] == want


def test_sha256sums_still_verify_after_a_held_run(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, days=3, seed=9)
    study = _one_shot(tmp_path / "study", raw)
    study.write_config(hash_digits=1)
    assert study.run(night_clock(8)) == 3
    outages = study.read("OUTAGES.txt")
    assert b"  DELAY  for:" in outages
    sums = dict(
        reversed(line.split("  ", 1)) for line in study.read("SHA256SUMS").decode().splitlines()
    )
    assert sums["OUTAGES.txt"] == hashlib.sha256(outages).hexdigest()


def test_the_clock_holds_back_later_records_and_rulings(tmp_path, monkeypatch):
    """Every file delivered at once, but the run's clock is night 3: records created and
    rulings made after it wait for a later run (a past night replays exactly)."""
    from datetime import datetime

    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, days=4, seed=4)
    study = SessionStudy(tmp_path / "study")
    study.deliver(raw)
    clock = night_clock(3)
    cut = datetime.fromisoformat(clock.replace("Z", "+00:00"))

    def made_by(ts: str) -> bool:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")) <= cut

    records = [r for r in raw_records(raw) if made_by(r["response"]["date_created"])]
    rulings = rulings_in_force(r for r in raw_rulings(raw) if made_by(r["created_at"]))
    expected = {
        r["response"]["uuid"]
        for r in records
        if not r["response"]["is_preview"]
        and r["response"]["completed_consent_frame"]
        and rulings.get(r["response"]["uuid"]) == "accepted"
    }
    assert study.run(clock) == 0
    csv_ids, json_ids = study.response_uuids()
    assert csv_ids == json_ids == expected
    assert expected != expected_published(raw)  # the clock really held something back
    assert study.run(FINAL_CLOCK) == 0
    assert study.response_uuids()[0] == expected_published(raw)


def test_a_unicode_study_name_keeps_its_letters(tmp_path, monkeypatch):
    """``Étude des bébés`` publishes ``Étude-des-bébés_…`` (Unicode letters and digits
    kept, as the platform names its files), listed in SHA256SUMS with their real hashes."""
    monkeypatch.setenv("STUDY_SALT", SALT)
    raw = _raw(tmp_path, days=2, seed=6, study_name="Étude des bébés")
    study = _one_shot(tmp_path / "study", raw, study_name="Étude des bébés")
    names = _not_runs(study.files())
    assert names == sorted(n.replace(SLUG, "Étude-des-bébés") for n in DEFAULT_FILES)
    sums = dict(
        reversed(line.split("  ", 1)) for line in study.read("SHA256SUMS").decode().splitlines()
    )
    for name in names:
        if name != "SHA256SUMS":
            assert hashlib.sha256(study.read(name)).hexdigest() == sums[name], name
    rows = study.csv_rows("Étude-des-bébés_all-responses.csv")
    assert {r["response__uuid"] for r in rows} == expected_published(raw) and rows
