"""The Psych-DS dataset (SPEC §4.3): the platform's Psych-DS layout and privacy choices,
official keywords only, the recommended documents and directories, and a
``dataset_description.json`` with the schema's required and recommended fields.

The schema's rules are written here as facts (psych-ds/psych-DS schema model, as bundled
with the official validator psych-ds/psychds-validator 1.5), not imported from the code
under test. The official validator itself, run by hand on a dataset built from the
synthetic drop, reports 0 errors and 0 warnings.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.session.outputs import StudySettings, build_outputs
from pipeline.session.process import SessionResult
from pipeline.session.psychds import StudyMetadata, keyword_stem
from tests.session.factory import SALT, STUDY, make_record, settings

# --- facts of the Psych-DS schema ----------------------------------------------------------
#: rules.files.tabular_data.data.Datafile.fileRegex
DATAFILE = re.compile(r"([a-z]+-[a-zA-Z0-9]+)(_[a-z]+-[a-zA-Z0-9]+)*_data\.(csv|tsv)")
#: meta.context.context.properties.keywords: any other keyword draws a warning
OFFICIAL_KEYWORDS = {
    "study", "site", "subject", "session", "task", "condition", "trial", "stimulus",
    "description",
}  # fmt: skip
#: rules.compiled_metadata.CompiledMetadata.fields
REQUIRED = ("name", "description", "variableMeasured")
RECOMMENDED = (
    "author", "citation", "license", "funder", "url", "identifier", "privacyPolicy", "keywords",
)  # fmt: skip
#: ...except privacyPolicy, which is no schema.org property (the validator warns on it);
#: the schema's own "Privacy Policy" field is usageInfo
NOT_SCHEMA_ORG = {"privacyPolicy"}
#: rules.files.common.core: warnings when missing
ROOT_DOCUMENTS = ("README.md", "CHANGES.md")
ROOT_DIRECTORIES = ("analysis", "results", "materials", "documentation")
#: rules.files.metadata: a directory's metadata file and a data file's sidecar
DIRECTORY_METADATA = "file_metadata.json"

# --- facts of the platform's Psych-DS download (lookit-api, 2024) --------------------------
OVERVIEW = "data/overview/"
FRAMES = "data/framedata-per-response/"
HEX = STUDY.replace("-", "")
FULL = StudyMetadata(
    description="Looking times of infants watching physics events.",
    author=("Jane Doe", "Physics Lab"),
    license="https://creativecommons.org/licenses/by/4.0/",
    keywords=("infants", "physics"),
    citation="Doe, J. (2024). Physics Study.",
    funder="NSF 1234567",
    url="https://example.org/physics-study",
)


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _header(data: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(data.decode("utf-8"))))


def _compiled_variables(entries: dict[str, bytes], path: str) -> list[str]:
    """The column names a data file's metadata lists, by Psych-DS inheritance: its
    sidecar, else the nearest directory metadata, else dataset_description.json."""
    sidecar = path[: -len(".csv")] + ".json"
    folder = path.rsplit("/", 1)[0]
    for candidate in (sidecar, f"{folder}/{DIRECTORY_METADATA}", "dataset_description.json"):
        if candidate in entries:
            return [v["name"] for v in json.loads(entries[candidate])["variableMeasured"]]
    raise AssertionError(f"no metadata for {path}")


def check_dataset(entries: dict[str, bytes]) -> dict:
    """Assert the Psych-DS rules and the platform's layout; returns the description."""
    description = json.loads(entries["dataset_description.json"])
    assert description["@context"] == "https://schema.org/"
    assert description["@type"] == "Dataset"
    for key in REQUIRED:
        assert description[key], key
    assert not NOT_SCHEMA_ORG & set(description)
    assert description["identifier"] == f"urn:uuid:{STUDY}"
    assert description["usageInfo"]
    for doc in ROOT_DOCUMENTS:
        assert entries[doc].decode("utf-8").startswith("# "), doc
    for folder in ROOT_DIRECTORIES:
        assert f"{folder}/README.md" in entries, folder
    data_files = sorted(n for n in entries if n.startswith("data/") and n.endswith(".csv"))
    assert data_files
    for name in data_files:
        base = name.rsplit("/", 1)[1]
        assert DATAFILE.fullmatch(base), name
        keywords = {pair.split("-")[0] for pair in base[: -len("_data.csv")].split("_")}
        assert keywords <= OFFICIAL_KEYWORDS, name
        assert name.startswith((OVERVIEW, FRAMES)), name
        # each file's compiled metadata lists exactly its columns
        assert _compiled_variables(entries, name) == _header(entries[name]), name
    assert any(n.startswith("data/") and n.endswith(DIRECTORY_METADATA) for n in entries)
    assert any(n.endswith("_data.json") for n in entries)  # a sidecar
    measured = description["variableMeasured"]
    names = [v["name"] for v in measured]
    columns = {c for n in data_files for c in _header(entries[n])}
    assert len(names) == len(set(names)) and set(names) == columns
    assert all(v["@type"] == "PropertyValue" and v["description"] for v in measured)
    # the platform leaves demographic data out (re-identification risk); videos too
    assert not [n for n in entries if "demographic" in n.lower() or "video" in n.lower()]
    assert not [c for c in columns if c.startswith("demographic__")]
    return description


def test_synthetic_study_follows_the_platform_layout(synth_result: SessionResult) -> None:
    files = synth_result.files
    entries = _entries(files["Physics-Study--psychds.zip"])
    description = check_dataset(entries)
    assert description["name"] == "Physics Study"
    overview = {
        f"{OVERVIEW}study-{HEX}_description-allresponses_data.csv": "Physics-Study_all-responses.csv",
        f"{OVERVIEW}study-{HEX}_description-allchildren_data.csv": "Physics-Study_all-children.csv",
    }  # fmt: skip
    for inside, published in overview.items():
        assert entries[inside] == files[published], inside  # the published bytes
        assert inside[: -len(".csv")] + ".json" in entries
    # one frame-data file per published response, as in the per-session download
    with zipfile.ZipFile(io.BytesIO(files["Physics-Study_framedata_per_session.zip"])) as z:
        per_session = {n.rsplit("_", 2)[1]: z.read(n) for n in z.namelist()}
    per_response = {
        n: data for n, data in entries.items() if n.startswith(FRAMES) and n.endswith(".csv")
    }
    assert {f"{FRAMES}study-{HEX}_session-{uuid.UUID(u).hex}_data.csv" for u in per_session} == (
        set(per_response)
    )
    for response, data in per_session.items():
        assert (
            per_response[f"{FRAMES}study-{HEX}_session-{uuid.UUID(response).hex}_data.csv"] == data
        )
    assert {r["response"]["uuid"] for r in synth_result.published} == set(per_session)
    assert set(entries) == {
        *ROOT_DOCUMENTS, "dataset_description.json", *(f"{d}/README.md" for d in ROOT_DIRECTORIES),
        *overview, *(n[: -len(".csv")] + ".json" for n in overview),
        f"{FRAMES}{DIRECTORY_METADATA}", *per_response,
    }  # fmt: skip


def test_recommended_fields_come_from_the_configuration() -> None:
    records = [make_record("a"), make_record("b", child="child-2")]
    full = _entries(
        build_outputs(records, settings(metadata=FULL), {})["Physics-Study--psychds.zip"]
    )
    description = check_dataset(full)
    assert description["description"] == FULL.description
    assert description["author"] == ["Jane Doe", "Physics Lab"]
    assert description["license"] == FULL.license
    assert description["keywords"] == ["infants", "physics"]
    assert (description["citation"], description["funder"], description["url"]) == (
        FULL.citation, FULL.funder, FULL.url,
    )  # fmt: skip
    assert set(RECOMMENDED) - NOT_SCHEMA_ORG <= set(description)
    readme = full["README.md"].decode()
    assert "Jane Doe; Physics Lab" in readme and FULL.license in readme
    # nothing configured: required fields still there, nothing invented
    bare = _entries(build_outputs(records, settings(), {})["Physics-Study--psychds.zip"])
    description = check_dataset(bare)
    assert not {"author", "license", "keywords", "citation", "funder", "url"} & set(description)
    assert "not given (`session.license`)" in bare["README.md"].decode()


def test_identifiable_files_say_so_in_their_description_keyword() -> None:
    files = build_outputs([make_record("a")], settings(identifying=["child__name"]), {})
    entries = _entries(files["Physics-Study--psychds.zip"])
    check_dataset(entries)
    named = f"{OVERVIEW}study-{HEX}_description-allresponsesIdentifiable_data.csv"
    assert entries[named] == files["Physics-Study_all-responses-identifiable.csv"]
    assert f"{OVERVIEW}study-{HEX}_description-allchildrenIdentifiable_data.csv" in entries
    sidecar = json.loads(entries[named[: -len(".csv")] + ".json"])
    (child_name,) = [v for v in sidecar["variableMeasured"] if v["name"] == "child__name"]
    assert "MUST BE REDACTED" in child_name["description"]
    assert "not shareable" in json.loads(entries["dataset_description.json"])["usageInfo"]


def test_an_empty_study_is_still_a_dataset() -> None:
    entries = _entries(build_outputs([], settings(), {})["Physics-Study--psychds.zip"])
    check_dataset(entries)
    assert not [n for n in entries if n.startswith(FRAMES) and n.endswith(".csv")]


def test_frame_values_with_line_breaks_and_quotes_split_whole() -> None:
    record = make_record("a")
    record["response"]["exp_data"]["1-survey"]["formData"]["favPie"] = 'pecan,\n"warm"\r\nok'
    files = build_outputs([record, make_record("b")], settings(), {})
    entries = _entries(files["Physics-Study--psychds.zip"])
    with zipfile.ZipFile(io.BytesIO(files["Physics-Study_framedata_per_session.zip"])) as z:
        per_session = [z.read(n) for n in sorted(z.namelist())]
    per_response = [entries[n] for n in sorted(entries) if n.startswith(FRAMES) and ".csv" in n]
    assert sorted(per_response) == sorted(per_session)


def test_keyword_names_are_official_and_alphanumeric() -> None:
    assert keyword_stem([("study", "ab12"), ("session", "CD34")]) == "study-ab12_session-CD34_data"
    with pytest.raises(ValueError, match="official"):
        keyword_stem([("study", "ab12"), ("response", "cd34")])  # the platform's, unofficial
    with pytest.raises(ValueError, match="letters and digits"):
        keyword_stem([("description", "all-responses")])


def test_configuration_keys_are_optional_and_checked(tmp_path: Path) -> None:
    base = f"kind: session\nsession:\n  study_uuid: {STUDY}\n"
    path = tmp_path / "study.yaml"
    path.write_text(base)
    assert StudySettings.from_config(load_config(path).session, SALT).metadata == StudyMetadata()
    path.write_text(
        base + "  description: Looking times.\n  author: [Jane Doe]\n  license: CC-BY-4.0\n"
        "  keywords: [infants]\n  citation: Doe (2024)\n  funder: NSF\n  url: https://x.org\n"
    )
    meta = StudySettings.from_config(load_config(path).session, SALT).metadata
    assert meta == StudyMetadata(
        "Looking times.", ("Jane Doe",), "CC-BY-4.0", ("infants",), "Doe (2024)", "NSF",
        "https://x.org",
    )  # fmt: skip
    for bad, said in [
        ("  author: Jane Doe\n", "session.author must be a list of strings"),
        ("  keywords: ['']\n", "session.keywords: must not list an empty name"),
        ("  license: ' '\n", "session.license: must not be empty"),
    ]:
        path.write_text(base + bad)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(caught.value).startswith(f"{path}: {said}") and "\n" not in str(caught.value)
