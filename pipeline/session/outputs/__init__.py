"""The published files of a session study (SPEC §4.3).

Compatibility is the rule: the platform's download code (lookit-api
``exp/views/responses.py``) is the reference, byte for byte where it can be. Column names
and order, row order (by ``response.id``), cell values and types, ``csv.QUOTE_NONNUMERIC``
quoting with ``\r\n`` line ends (:func:`pipeline.session.formats.platform_csv`), the JSON
downloads' tab-indented records (:func:`pipeline.session.formats.platform_json`) and the
dictionary layouts (:mod:`pipeline.session.dictionaries`) follow it, so researchers' scripts
written against those downloads run unchanged. Beyond the platform: a Psych-DS dataset
(:mod:`pipeline.session.psychds`), one gzipped CSV of all frame data and the video list.

Every builder is a pure function of the published records and the study settings and
returns bytes; ZIP entries carry a fixed timestamp and gzip ``mtime=0``, so the same input
always gives byte-identical files.

Privacy: the identifying columns (:data:`IDENTIFYING`) are written only when selected in
``StudySettings.identifying``; global IDs, names, birthdays, exact ages, the nickname,
the child's additional information and the exit survey's ``birthDate`` are never written
otherwise. Free text the platform publishes (consent comment, parent feedback, the
demographic comments and referrer) is published with a redaction note in its dictionary.

Where this project departs from the platform's code, or decides where it has no answer
(also in the README):

- ``birthDate`` is left out of frame data *and* of the JSON's ``exp_data``, at any depth
  (the platform leaves out only the exit survey's, and only from frame data).
- Exit-survey values come from the last exit frame in the order the participant saw them
  (``sequence``); ``parent_feedback`` falls back to the record's own field only when the
  response has no exit frame at all.
- ``response__completed_consent_frame`` is not published (every published response has it).
- Values the platform cannot hold are written as given: an unknown researcher status as
  its code, ``conditions`` given as a list as that list, a frame value that is not an
  object (jsPsych-style) as one frame-data row with an empty ``key``.
- Dictionaries keep this project's descriptions (with the redaction notes), in the
  platform's rows and order.

Modules, one per published file or family of files:

- :mod:`.settings`        -- study settings, identifying columns, file names
- :mod:`.common`          -- shared helpers: the written table, flattening, ages
- :mod:`.response_fields` -- one response's values, shared by the overview and the JSON
- :mod:`.overview`        -- ``all-responses`` CSV and its dictionary
- :mod:`.responses_json`  -- ``all-responses`` JSON
- :mod:`.frames`          -- frame data: per-session ZIP, ``all-frames.csv.gz``, dictionary
- :mod:`.children`        -- ``all-children`` CSV and its dictionary
- :mod:`.demographics`    -- ``all-demographic-snapshots`` CSV, JSON and dictionary
- :mod:`.videos`          -- ``videos.csv``
- :mod:`.psychds_dataset` -- ``--psychds.zip``
- :mod:`.hashed_ids`      -- the hashed-ID collision check (the ID map: pipeline.session.idmap)
- :mod:`.build`           -- all of a study's files at once (:func:`build_outputs`)
"""

from pipeline.session.outputs.build import build_outputs
from pipeline.session.outputs.common import flatten
from pipeline.session.outputs.frames import frame_rows
from pipeline.session.outputs.hashed_ids import collisions
from pipeline.session.outputs.settings import IDENTIFYING, StudySettings, output_names, study_slug

__all__ = [
    "IDENTIFYING",
    "StudySettings",
    "build_outputs",
    "collisions",
    "flatten",
    "frame_rows",
    "output_names",
    "study_slug",
]
