"""The Psych-DS dataset of a session study, ``{study}--psychds.zip`` (SPEC §4.3).

Layout (Psych-DS 1.x): ``dataset_description.json`` at the root (schema.org ``Dataset``
with ``name``, ``description`` and ``variableMeasured``, the column names of every data
file), the data files under ``data/`` with keyword-formatted names
(``study-<uuid hex>_file-<label>[_identifiable-true]_data.csv``, keyword values letters
and digits only, as the Psych-DS validator requires), and next to each data file a
sidecar ``…_data.json`` describing its columns with the data dictionary's texts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.session.dictionaries import describe
from pipeline.session.formats import to_json, zip_bytes

SCHEMA_CONTEXT = "https://schema.org/"
DESCRIPTION_FILE = "dataset_description.json"
DATA_DIR = "data/"
_KEYWORD_VALUE = re.compile(r"^[A-Za-z0-9]+$")


@dataclass(frozen=True)
class DataFile:
    """One data file of the dataset: its CSV bytes and columns."""

    label: str  # value of the ``file`` keyword: ASCII letters and digits
    columns: Sequence[str]
    data: bytes
    summary: str  # one sentence on what a row is
    identifiable: bool = False
    descriptions: Mapping[str, str] = field(default_factory=dict)  # dictionary overrides

    def __post_init__(self) -> None:
        if not _KEYWORD_VALUE.match(self.label):
            raise ValueError(f"a Psych-DS keyword value has only letters and digits: {self.label}")

    def stem(self, study_uuid: str) -> str:
        """``data/study-<hex>_file-<label>[_identifiable-true]_data`` (no extension)."""
        marks = "_identifiable-true" if self.identifiable else ""
        return f"{DATA_DIR}study-{uuid.UUID(study_uuid).hex}_file-{self.label}{marks}_data"


def dataset_description(study_name: str, study_uuid: str, files: Sequence[DataFile]) -> dict:
    """The global metadata of the dataset; ``variableMeasured`` lists every column of
    every data file once, in file order."""
    name = study_name or study_uuid
    variables = list(dict.fromkeys(c for f in files for c in f.columns))
    parts = "; ".join(f"file-{f.label}: {f.summary}" for f in files)
    return {
        "@context": SCHEMA_CONTEXT,
        "@type": "Dataset",
        "name": name,
        "description": (
            f"Session data of the study {name} (study UUID {study_uuid}), published with the "
            f"response consent rulings applied. Data files: {parts}. Each data file's sidecar "
            "JSON describes its columns and says which must be redacted before publication."
        ),
        "identifier": f"urn:uuid:{study_uuid}",
        "variableMeasured": variables,
    }


def sidecar(study_name: str, data_file: DataFile) -> dict:
    """The sidecar JSON of one data file: its columns with their dictionary descriptions."""
    return {
        "@context": SCHEMA_CONTEXT,
        "@type": "Dataset",
        "name": f"{study_name}: {data_file.label}",
        "description": data_file.summary,
        "variableMeasured": [
            {
                "@type": "PropertyValue",
                "name": c,
                "description": describe(c, data_file.descriptions),
            }
            for c in data_file.columns
        ],
    }


def psychds_zip(study_name: str, study_uuid: str, files: Sequence[DataFile]) -> bytes:
    """The Psych-DS dataset as deterministic ZIP bytes."""
    entries = {DESCRIPTION_FILE: to_json(dataset_description(study_name, study_uuid, files))}
    name = study_name or study_uuid
    for data_file in files:
        stem = data_file.stem(study_uuid)
        entries[f"{stem}.csv"] = data_file.data
        entries[f"{stem}.json"] = to_json(sidecar(name, data_file))
    return zip_bytes(entries)
