"""The published files of a session study (SPEC §4.3).

Compatibility is the rule: column names, their order, value formats
(:mod:`pipeline.session.formats`) and dictionary layouts (:mod:`pipeline.session.dictionaries`)
follow the source platform's downloads, so researchers' scripts written against them run
unchanged. Beyond the platform: a Psych-DS dataset (:mod:`pipeline.session.psychds`) and one
gzipped CSV of all frame data.

Every builder is a pure function of the published records and the study settings and
returns bytes; rows are sorted and columns ordered deterministically, ZIP entries carry a
fixed timestamp and gzip ``mtime=0``, so the same input always gives byte-identical files.

Privacy: the identifying columns (:data:`IDENTIFYING`) are written only when selected in
``StudySettings.identifying``; global IDs, names, birthdays, exact ages, the nickname,
the child's additional information and the exit survey's ``birthDate`` are never written
otherwise. Free text the platform publishes (consent comment, parent feedback, the
demographic comments and referrer) is published with a redaction note in its dictionary.

Decisions where the platform gives no answer (also in the README):

- Exit-survey values come from the last exit frame in the order the participant saw them
  (``sequence``); ``parent_feedback`` falls back to the record's own field only when the
  response has no exit frame at all.
- ``response__eligibility`` is one cell, the codes separated by spaces (the platform's
  dictionary says so); the JSON keeps the list.
- ``response__completed_consent_frame`` is not published (every published response has it).
- A frame whose data is not an object is one frame-data row with an empty ``key`` and the
  whole value (lists as Python's text of them).
- The children file has one row per child: the profile of its newest response, the ages
  at its first response (the platform's row is the child's first response, with the
  current profile).

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
