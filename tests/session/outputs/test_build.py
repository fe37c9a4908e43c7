"""A whole drop's files (:mod:`pipeline.session.outputs.build`): privacy, determinism,
consistency between the files."""

from __future__ import annotations

import gzip
import io
import random
import zipfile

import pandas as pd

from pipeline.session.outputs.build import build_outputs
from pipeline.session.process import SessionResult, process_drop
from tests.session.factory import dump, make_record, rulings_csv, settings
from tests.session.outputs.helpers import DEFAULT_NAMES, csv_rows, zip_entries


def _all_bytes(files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """Every file's bytes, plus every ZIP entry and every gzip file's content."""
    out = []
    for name, data in files.items():
        out.append((name, data))
        if name.endswith(".zip"):
            out.extend((f"{name}!{inner}", body) for inner, body in zip_entries(data).items())
        if name.endswith(".gz"):
            out.append((f"{name}!", gzip.decompress(data)))
    return out


def test_no_identifying_data_in_default_outputs(
    synth_result: SessionResult, synth_records: list[dict]
) -> None:
    """Global IDs, names, birthdays, the nickname and the child's additional information
    never reach a default file (the free text the platform publishes does, with a
    redaction note in the dictionaries: see the dictionary tests)."""
    secrets: set[str] = set()
    for record in synth_records:
        secrets.update((record["participant"]["global_id"], record["child"]["global_id"]))
        secrets.add(record["demographic"]["uuid"])
        for value in (
            record["child"]["name"],
            record["child"]["birthday"],
            record["participant"]["nickname"],
            record["child"]["additional_information"],
            *record["demographic"]["child_birthdays"],
        ):
            if value:
                secrets.add(value)
    secrets |= {s.upper() for s in secrets if len(s) == 36}  # UUIDs in any case
    assert len(secrets) > 100
    scanned = _all_bytes(synth_result.files)
    assert len(scanned) > len(synth_result.files)  # the zip entries are scanned too
    leaks = [
        (name, secret)
        for name, data in scanned
        for secret in secrets
        if secret.encode("utf-8") in data
    ]
    assert leaks == []


def test_the_scan_would_catch_a_leak(synth_files: dict[str, bytes]) -> None:
    ident = process_drop(synth_files, settings(identifying=["child__name"]))
    name = ident.published[0]["child"]["name"]
    assert name.encode() in ident.files["Physics-Study_all-responses-identifiable.csv"]


def test_pandas_reads_every_csv(synth_result: SessionResult) -> None:
    """Every CSV reads back; the platform's files end their lines with ``\r\n`` as its
    ``csv`` writer does, the video list (not a platform file) with ``\n``."""
    for name, data in _all_bytes(synth_result.files):
        if name.endswith(".csv"):
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
            assert len(frame.columns) >= 2, name
            ends = data.count(b"\r\n") if "psychds" not in name else None
            if name.endswith("_videos.csv"):
                assert data.count(b"\r") == 0, name
            elif ends is not None:
                assert ends == len(frame) + 1 and data.startswith(b'"'), name


def test_outputs_are_deterministic(synth_files: dict[str, bytes], synth_result) -> None:
    again = process_drop(dict(reversed(list(synth_files.items()))), settings())
    assert again.files == synth_result.files
    records = list(synth_result.published)
    random.Random(3).shuffle(records)
    rebuilt = build_outputs(
        records, settings(), synth_result.drop.rulings, synth_result.drop.videos
    )
    assert rebuilt == synth_result.files
    for name in ("Physics-Study_framedata_per_session.zip", "Physics-Study--psychds.zip"):
        with zipfile.ZipFile(io.BytesIO(rebuilt[name])) as archive:
            infos = archive.infolist()
            assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
            assert [i.filename for i in infos] == sorted(i.filename for i in infos)


def test_empty_study_gives_headers_only() -> None:
    files = build_outputs([], settings(), {})
    assert sorted(files) == DEFAULT_NAMES
    assert csv_rows(files["Physics-Study_all-responses.csv"]) == []
    header = files["Physics-Study_all-responses.csv"].decode()
    assert header.startswith('"response__id","response__uuid",')  # the platform's own only
    assert header.endswith('"response__conditions","response__researcher_payment_status"\r\n')
    assert files["Physics-Study_all-responses.json"] == b"[\n\n]"
    assert files["Physics-Study_all-demographic-snapshots.json"] == b"[\n\n]"
    assert zip_entries(files["Physics-Study_framedata_per_session.zip"]) == {}
    assert gzip.decompress(files["Physics-Study_all-frames.csv.gz"]) == (
        b'"response_uuid","child_hashed_id","frame_id","event_number","key","value"\r\n'
    )
    assert "dataset_description.json" in zip_entries(files["Physics-Study--psychds.zip"])


def test_duplicate_deliveries_publish_once() -> None:
    records = [make_record("a", completed=False), make_record("a")]
    drop = {
        "responses_1.json": dump(records[:1]),
        "responses_2.json": dump(records[1:]),
        "consent_rulings.csv": rulings_csv(("a", "accepted", "2024-03-03T00:00:00Z")),
    }
    rows = csv_rows(process_drop(drop, settings()).files["Physics-Study_all-responses.csv"])
    assert len(rows) == 1 and rows[0]["response__completed"] == "True"
