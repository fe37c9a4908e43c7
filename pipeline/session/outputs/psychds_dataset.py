"""The Psych-DS dataset ``{study}--psychds.zip`` (SPEC §4.3), in the layout of the
platform's own Psych-DS download (lookit-api, 2024), built with :mod:`pipeline.session.psychds`::

    README.md  CHANGES.md  dataset_description.json
    data/overview/study-<study>_description-allresponses[Identifiable]_data.csv  (+ .json)
    data/overview/study-<study>_description-allchildren[Identifiable]_data.csv   (+ .json)
    data/framedata-per-response/file_metadata.json
    data/framedata-per-response/study-<study>_session-<response>_data.csv      (one each)
    analysis/  results/  materials/  documentation/                           (a README each)

As the platform does, demographic data is not bundled (re-identification risk: it must
never be linkable to videos or response IDs); videos are never included. Where the
platform's names would draw validator warnings they use official keywords instead: its
``all-responses``/``all-children`` and ``identifiable-true`` become the ``description``
keyword's value, its ``response-<uuid>`` becomes ``session-<uuid>`` (one response is one
session). UUIDs in names are whole (the platform's 8-character default may collide).
The overview files are the published CSVs byte for byte; the per-response files are the
frame-data table's rows of each response, byte for byte, under its header.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Mapping

from pipeline.session.dictionaries import REDACT
from pipeline.session.outputs.common import Table
from pipeline.session.outputs.settings import StudySettings, output_names
from pipeline.session.psychds import (
    RECOMMENDED_DIRECTORIES,
    DataFile,
    dataset_description,
    dataset_zip,
    keyword_stem,
)

OVERVIEW = "overview"
FRAMES = "framedata-per-response"
IDENTIFIABLE_MARK = "Identifiable"
FRAMES_SUMMARY = (
    "Frame data of one response (session), one row per value, as in the per-session frame "
    "data download"
)
PLACEHOLDERS = {
    "analysis": "analysis code (none is published with the data)",
    "results": "results derived from the data (none are published with it)",
    "materials": (
        "the study's materials: its protocol and advertisement as run on the platform (the "
        "platform's own download puts them here; the pipeline does not receive them)"
    ),
    "documentation": (
        "documentation such as consent forms and codebooks; the data dictionaries are "
        "published next to this dataset"
    ),
}


def csv_records(data: bytes) -> list[str]:
    """The records of CSV bytes as their exact text, header first (a quoted cell may hold
    line breaks: a record ends at a line end outside quotes)."""
    text, records, start, pos = data.decode("utf-8"), [], 0, 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end + 1
        if text.count('"', start, end) % 2 == 0:
            records.append(text[start:end])
            start = end
        pos = end
    if start < len(text):
        records.append(text[start:])
    return records


def split_by_response(frames: Table) -> dict[str, bytes]:
    """Response UUID → its frame-data rows under the header, bytes as in ``frames``, in the
    table's order."""
    records = csv_records(frames.data)
    if not records:
        return {}
    at = frames.columns.index("response_uuid")
    out: dict[str, list[str]] = {}
    for record in records[1:]:
        row = next(csv.reader(io.StringIO(record)), None)
        if row:
            out.setdefault(row[at], [records[0]]).append(record)
    return {uid: "".join(parts).encode("utf-8") for uid, parts in out.items()}


def _rows(table: Table) -> int:
    return max(0, len(csv_records(table.data)) - 1)


def readme(settings: StudySettings, responses: int, children: int) -> str:
    """``README.md``: what the dataset holds, its layout, what is left out and why."""
    name, meta = settings.study_name or settings.study_uuid, settings.metadata
    names = output_names(settings)
    mark = IDENTIFIABLE_MARK if settings.identifiable else ""
    study = uuid.UUID(settings.study_uuid).hex
    given = [
        ("Authors", "; ".join(meta.author), "author"),
        ("License", meta.license, "license"),
        ("Keywords", ", ".join(meta.keywords), "keywords"),
        ("Citation", meta.citation, "citation"),
        ("Funder", meta.funder, "funder"),
        ("URL", meta.url, "url"),
    ]
    about = f"\n{meta.description}\n" if meta.description else ""
    facts = "\n".join(
        f"- {label}: {value}" if value else f"- {label}: not given (`session.{key}`)"
        for label, value, key in given
    )
    privacy = (
        f"- The file names ending in `{IDENTIFIABLE_MARK}` hold identifying columns chosen in "
        "the study's configuration: this dataset must not be shared as it is.\n"
        if mark
        else ""
    )
    return f"""# {name}

Session data of the study {name} (study UUID {settings.study_uuid}): the {responses}
responses whose consent was accepted, from {children} children.
{about}
The folder follows [Psych-DS](https://psychds-docs.readthedocs.io/en/latest/) and the layout
of the platform's own Psych-DS download. The data are plain CSV files.

## Contents

```
README.md                  this file
CHANGES.md                 how this dataset is versioned
dataset_description.json   Psych-DS metadata, with every column described (variableMeasured)
data/
  overview/
    study-{study}_description-allresponses{mark}_data.csv   one row per response ({names["responses_csv"]})
    study-{study}_description-allchildren{mark}_data.csv    one row per child ({names["children_csv"]})
    (each with a .json file describing its columns)
  framedata-per-response/
    study-{study}_session-<response UUID>_data.csv   frame data of one response ({names["framedata_zip"]})
    file_metadata.json          the frame-data columns, described
analysis/  results/  materials/  documentation/   a README each, for your own files
```

File names use official Psych-DS keywords only: `study` and `session` hold the study's
and the response's UUID without dashes (one response is one session), `description`
says which table a file holds.

## Left out, and why

- Demographic data is not bundled, as the platform's own download does not: linked to
  videos or response IDs it can re-identify a family. It is published separately
  ({names["demographics_csv"]}); never publish it with videos or response identifiers.
- Videos are never included ({names["videos_csv"]} lists them).
- The nested JSON download is published separately ({names["responses_json"]}).

## Privacy

{privacy}- Columns that must be removed before publication say so in their description
  ("{REDACT}" and the other redaction notes), in `dataset_description.json` and in the
  `.json` file next to each data file.

## About the data

{facts}
"""


def changes(responses: int, children: int) -> str:
    """``CHANGES.md``: how versions of this dataset come about."""
    return f"""# Changes

The pipeline builds this dataset anew from every record received, at each run that
publishes it; it is not edited by hand. The run manifests (`runs/` in the publication
folder) name the input files each run used.

- This version: {responses} responses, {children} children.
"""


def usage_info(settings: StudySettings) -> str:
    """The privacy statement (``usageInfo``)."""
    held = (
        "This dataset holds identifying columns chosen in the study's configuration: it is "
        "not shareable as it is."
        if settings.identifiable
        else "The identifying columns (names, birthdays, global IDs, exact ages) are left out."
    )
    return (
        f"{held} Columns whose description says they must be redacted must be removed before "
        "publication. Demographic data and videos are not included."
    )


def psychds_file(
    settings: StudySettings,
    responses: Table,
    children: Table,
    demographics: Table,
    frames: Table,
    per_response: Mapping[str, bytes] | None = None,
) -> bytes:
    """The dataset's ZIP (role ``psychds_zip``) from the written tables: the overview and
    children files, and each response's frame data (``per_response``, response UUID → CSV
    bytes; by default split from ``frames``). ``demographics`` is deliberately not
    bundled (the platform's privacy choice)."""
    del demographics  # not bundled: see the module's docstring
    study = uuid.UUID(settings.study_uuid).hex
    mark = IDENTIFIABLE_MARK if settings.identifiable else ""
    by_response = split_by_response(frames) if per_response is None else per_response
    files = [
        DataFile(OVERVIEW, keyword_stem([("study", study), ("description", f"allresponses{mark}")]),
                 responses.columns, responses.data, "One row per response (session)"),
        DataFile(OVERVIEW, keyword_stem([("study", study), ("description", f"allchildren{mark}")]),
                 children.columns, children.data, "One row per child"),
    ] + [
        DataFile(FRAMES, keyword_stem([("study", study), ("session", uuid.UUID(uid).hex)]),
                 frames.columns, data, FRAMES_SUMMARY, sidecar=False)
        for uid, data in sorted(by_response.items())
    ]  # fmt: skip
    n_responses, n_children = _rows(responses), _rows(children)
    name = settings.study_name or settings.study_uuid
    meta = settings.metadata
    description = meta.description or (
        f"Session data of the study {name}: one row per response and one per child (overview), "
        "and the frame data of each response. Demographic data and videos are not included."
    )
    documents = {
        "README.md": readme(settings, n_responses, n_children),
        "CHANGES.md": changes(n_responses, n_children),
        **{f"{d}/README.md": f"# {d}\n\nFor {PLACEHOLDERS[d]}.\n" for d in RECOMMENDED_DIRECTORIES},
    }
    return dataset_zip(
        dataset_description(
            name, description, f"urn:uuid:{settings.study_uuid}", usage_info(settings), meta,
            [(f.columns, f.descriptions) for f in files[:3]],  # each table once
        ),
        documents,
        files,
        {FRAMES: (FRAMES_SUMMARY, frames.columns, {})},
    )  # fmt: skip
