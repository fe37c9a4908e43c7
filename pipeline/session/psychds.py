"""Psych-DS datasets (https://psychds-docs.readthedocs.io/): keyword file names, the
metadata documents and the deterministic ZIP (SPEC §4.3).

The facts of the schema this module follows (psych-ds/psych-DS schema model, as bundled
with the official validator psych-ds/psychds-validator 1.5):

- data files live under ``data/`` (any depth) and are named by keyword-value pairs joined
  by ``_``, ending in ``_data.csv``; official keywords only (:data:`OFFICIAL_KEYWORDS`),
  keywords lowercase letters, values ASCII letters and digits;
- ``dataset_description.json`` at the root: schema.org ``Dataset`` with the required
  :data:`REQUIRED_FIELDS`; the schema recommends :data:`RECOMMENDED_FIELDS`, but
  ``privacyPolicy`` is not a schema.org property (the validator warns on it), so the
  privacy statement goes to ``usageInfo``, the schema's own "Privacy Policy" field;
- ``README`` and ``CHANGES`` (``.md``) at the root, and the ``analysis``, ``results``,
  ``materials`` and ``documentation`` directories are recommended (here each holds a
  README saying what belongs there);
- metadata may be inherited: a ``file_metadata.json`` applies to its directory, a
  ``…_data.json`` sidecar to its data file; each data file's compiled metadata must list
  every column of the file in ``variableMeasured``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.session.dictionaries import describe
from pipeline.session.formats import to_json, zip_bytes

SCHEMA_CONTEXT = "https://schema.org/"
DESCRIPTION_FILE = "dataset_description.json"
DIRECTORY_METADATA = "file_metadata.json"
DATA_DIR = "data/"
#: The schema's keyword vocabulary for data file names.
OFFICIAL_KEYWORDS = (
    "study", "site", "subject", "session", "task", "condition", "trial", "stimulus",
    "description",
)  # fmt: skip
REQUIRED_FIELDS = ("name", "description", "variableMeasured")
RECOMMENDED_FIELDS = (
    "author", "citation", "license", "funder", "url", "identifier", "privacyPolicy",
    "keywords",
)  # fmt: skip
#: Root documents and directories the validator warns about when missing.
RECOMMENDED_DOCUMENTS = ("README.md", "CHANGES.md")
RECOMMENDED_DIRECTORIES = ("analysis", "results", "materials", "documentation")
_KEYWORD_VALUE = re.compile(r"^[A-Za-z0-9]+$")


def keyword_stem(pairs: Sequence[tuple[str, str]]) -> str:
    """``study-ab12_session-cd34_data``: a data file's name without its extension, from
    (keyword, value) pairs; raises ValueError for an unofficial keyword or a value that
    is not ASCII letters and digits."""
    for keyword, value in pairs:
        if keyword not in OFFICIAL_KEYWORDS:
            raise ValueError(f"{keyword!r} is not an official Psych-DS keyword")
        if not _KEYWORD_VALUE.match(value):
            raise ValueError(f"a Psych-DS keyword value has only letters and digits: {value}")
    return "_".join(f"{k}-{v}" for k, v in pairs) + "_data"


@dataclass(frozen=True)
class StudyMetadata:
    """What the study's configuration says about the dataset (all optional: what is not
    given is left out, never invented)."""

    description: str | None = None
    author: tuple[str, ...] = ()
    license: str | None = None
    keywords: tuple[str, ...] = ()
    citation: str | None = None
    funder: str | None = None
    url: str | None = None

    def fields(self) -> dict[str, Any]:
        """The given schema.org fields of ``dataset_description.json`` (no description)."""
        values = {
            "author": list(self.author), "license": self.license,
            "keywords": list(self.keywords), "citation": self.citation,
            "funder": self.funder, "url": self.url,
        }  # fmt: skip
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class DataFile:
    """One CSV data file: where it goes under ``data/``, its columns and bytes."""

    folder: str  # under data/, e.g. ``overview`` (no slashes at either end)
    stem: str  # :func:`keyword_stem`
    columns: Sequence[str]
    data: bytes
    summary: str  # one sentence on what a row is
    descriptions: Mapping[str, str] = field(default_factory=dict)  # dictionary overrides
    sidecar: bool = True  # a ``…_data.json`` describing its columns; else the folder's

    @property
    def path(self) -> str:
        """The file's path in the dataset."""
        return f"{DATA_DIR}{self.folder}/{self.stem}.csv"


def variables(columns: Sequence[str], descriptions: Mapping[str, str] | None = None) -> list:
    """``variableMeasured``: a schema.org ``PropertyValue`` per column, described by the
    data dictionary."""
    return [
        {"@type": "PropertyValue", "name": c, "description": describe(c, descriptions)}
        for c in columns
    ]


def column_metadata(
    name: str, summary: str, columns: Sequence[str], descriptions: Mapping[str, str] | None = None
) -> dict:
    """A sidecar or directory metadata document: its files' columns described."""
    return {
        "@context": SCHEMA_CONTEXT,
        "@type": "Dataset",
        "name": name,
        "description": summary,
        "variableMeasured": variables(columns, descriptions),
    }


def dataset_description(
    name: str,
    description: str,
    identifier: str,
    usage: str,
    metadata: StudyMetadata,
    tables: Sequence[tuple[Sequence[str], Mapping[str, str]]],
) -> dict:
    """The global metadata: the required fields, the recommended ones the study gives, and
    every column of the data files' ``tables`` (columns, dictionary overrides) once, in
    table order, in ``variableMeasured``."""
    columns: dict[str, Mapping[str, str]] = {}
    for table_columns, descriptions in tables:
        for column in table_columns:
            columns.setdefault(column, descriptions)
    return {
        "@context": SCHEMA_CONTEXT,
        "@type": "Dataset",
        "name": name,
        "description": description,
        "identifier": identifier,
        **metadata.fields(),
        "usageInfo": usage,
        "variableMeasured": [variables([c], d)[0] for c, d in columns.items()],
    }


def dataset_zip(
    description: Mapping[str, Any],
    documents: Mapping[str, str],
    files: Sequence[DataFile],
    folders: Mapping[str, tuple[str, Sequence[str], Mapping[str, str]]] | None = None,
) -> bytes:
    """The dataset as deterministic ZIP bytes: ``dataset_description.json``, text
    ``documents`` (path → Markdown), the data files with their sidecars, and a
    ``file_metadata.json`` per entry of ``folders`` (folder under ``data/`` → summary,
    columns, descriptions)."""
    name = str(description["name"])
    entries = {DESCRIPTION_FILE: to_json(dict(description))}
    entries.update({path: text.encode("utf-8") for path, text in documents.items()})
    for folder, (summary, columns, texts) in (folders or {}).items():
        meta = column_metadata(f"{name}: {folder}", summary, columns, texts)
        entries[f"{DATA_DIR}{folder}/{DIRECTORY_METADATA}"] = to_json(meta)
    for data_file in files:
        entries[data_file.path] = data_file.data
        if data_file.sidecar:
            meta = column_metadata(
                f"{name}: {data_file.stem}", data_file.summary, data_file.columns,
                data_file.descriptions,
            )  # fmt: skip
            entries[data_file.path[: -len(".csv")] + ".json"] = to_json(meta)
    return zip_bytes(entries)
