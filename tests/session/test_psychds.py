"""The Psych-DS dataset (SPEC §4.3): a valid dataset_description.json, keyword-named data
files under data/, and a sidecar for every data file."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest

from pipeline.session.process import SessionResult
from pipeline.session.psychds import DataFile, psychds_zip
from tests.session.factory import STUDY

# the Psych-DS validator's rule for data file names
DATAFILE = re.compile(r"^data/([a-z]+-[a-zA-Z0-9]+)(_[a-z]+-[a-zA-Z0-9]+)*_data\.csv$")


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _check_dataset(entries: dict[str, bytes]) -> dict:
    """Assert the Psych-DS rules this dataset must meet; returns the description."""
    description = json.loads(entries["dataset_description.json"])
    assert description["@context"] == "https://schema.org/"
    assert description["@type"] == "Dataset"
    for key in ("name", "description"):
        assert isinstance(description[key], str) and description[key]
    data_files = sorted(n for n in entries if n.endswith(".csv"))
    assert data_files and all(DATAFILE.match(n) for n in data_files), data_files
    columns: list[str] = []
    for name in data_files:
        header = next(csv.reader(io.StringIO(entries[name].decode("utf-8"))))
        columns += header
        sidecar = json.loads(entries[name[: -len(".csv")] + ".json"])
        described = [v["name"] for v in sidecar["variableMeasured"]]
        assert described == header, name
        assert all(v["description"] for v in sidecar["variableMeasured"])
    # every column of every data file is a measured variable, listed once
    measured = description["variableMeasured"]
    assert len(measured) == len(set(measured)) and set(measured) == set(columns)
    assert set(entries) == {"dataset_description.json", *data_files} | {
        n[: -len(".csv")] + ".json" for n in data_files
    }
    return description


def test_synthetic_study_is_a_valid_dataset(synth_result: SessionResult) -> None:
    entries = _entries(synth_result.files["Physics-Study--psychds.zip"])
    description = _check_dataset(entries)
    assert description["name"] == "Physics Study"
    assert "child__hashed_id" in description["variableMeasured"]
    responses = next(n for n in entries if "_file-responses_" in n and n.endswith(".csv"))
    assert entries[responses] == synth_result.files["Physics-Study_all-responses.csv"]
    frames = next(n for n in entries if "_file-frames_" in n and n.endswith(".csv"))
    rows = list(csv.DictReader(io.StringIO(entries[frames].decode())))
    assert {r["response_uuid"] for r in rows} == {
        r["response"]["uuid"] for r in synth_result.published
    }


def test_sidecars_carry_the_dictionary_and_identifiable_files_say_so() -> None:
    files = [
        DataFile("responses", ["response__uuid", "child__name"], b"response__uuid,child__name\n",
                 "one row per response", identifiable=True),
        DataFile("demographics", ["response__uuid"], b"response__uuid\n", "snapshots",
                 descriptions={"response__uuid": "special"}),
    ]  # fmt: skip
    entries = _entries(psychds_zip("Étude", STUDY, files))
    hexed = STUDY.replace("-", "")
    assert f"data/study-{hexed}_file-responses_identifiable-true_data.csv" in entries
    description = _check_dataset(entries)
    assert description["variableMeasured"] == ["response__uuid", "child__name"]  # file order
    sidecar = json.loads(entries[f"data/study-{hexed}_file-demographics_data.json"])
    assert sidecar["variableMeasured"] == [
        {"@type": "PropertyValue", "name": "response__uuid", "description": "special"}
    ]
    named = json.loads(entries[f"data/study-{hexed}_file-responses_identifiable-true_data.json"])
    assert "MUST BE REDACTED" in named["variableMeasured"][1]["description"]


def test_keyword_values_are_letters_and_digits() -> None:
    with pytest.raises(ValueError, match="letters and digits"):
        DataFile("all-responses", [], b"", "x")
