"""Deterministic generator of realistic raw Qualtrics exports for panel studies (SPEC §3).

``generate_panel(out, start, days, per_day, seed)`` simulates ``days * per_day`` responses
started on the days ``start .. start+days-1`` (calendar days in ``timezone``) and writes
the exports a survey platform would have delivered for them:

* one file per delivery day and survey wave, ``export_{YYYY_mm_dd}_{wave}.csv`` (the day
  the export was pulled, at ``pull_hour`` local time), holding the responses *recorded*
  since the previous pull minus ``overlap_hours`` — so consecutive exports repeat some
  responses (same ``ResponseId``, same content). Deliveries continue after the last start
  day until every response has been delivered (late records arrive up to ~5 days later);
* three header rows as Qualtrics writes them (names; question texts with newlines and
  commas; one JSON ``ImportId`` object per column, with ``timeZone`` for the three
  timestamp columns), then one row per response ordered by ``RecordedDate``;
* three waves with different column sets: wave 2 (``SV_cT2ri3tFp2dhJGZ``) is the layout of
  ``fixtures/qualtrics_export_sample.csv``, wave 1 (``SV_8zYl1sFN6fAFIxv``) lacks some of
  its columns, wave 3 (``SV_8bKZvWZcGbvzsz3``) inserts new ones. The wave changes at 1/3 and
  2/3 of the date range, each switch spread over about a day (both waves live at once);
* timestamps ``YYYY-MM-DD HH:MM:SS`` in ``timezone``, except ONE export (the biggest file
  of delivery day ``utc_export``, default 1 = the second delivery day) written entirely in
  UTC: row 3 says ``"timeZone":"UTC"`` and the values are converted;
* the rule exercisers of SPEC §3.3–3.5 (rates in :class:`Rates`): previews, no age consent
  (``S1`` = 2, screened out, or empty), too few answers, missing/unknown ``SurveyID``,
  empty tokens, forwarded links (2–5 responses sharing a token; the original sometimes
  recorded days after the forwardees), late records (recorded 1–4 days after the start),
  abandoned responses (``Finished=0``, closed 4 h after the start), tokens starting with
  ``-`` exported as ``'-…``, outliers and decimals in numeric open-ended items, 9-digit
  ZIP codes, ZIPs with leading zeros, free text with stray spaces, commas, quotes and the
  odd newline.

Values have the survey's types (its R helper, ``get_survey_df``, reads them so): numeric
open-ended items (``A2``, ``A4``, ``Q40``, ...) hold numbers only, single-choice items one
code, multi-select items a comma-separated code list; text only in the ``*_TEXT`` answers
and the ZIP code (``A3``).

Missing values are empty cells by default (as Qualtrics writes them); ``na_token="NA"``
writes a bare ``NA`` like the fixture (which is an R re-export). Everything is drawn from
``numpy.random.Generator(PCG64(seed))`` in a fixed order: the same arguments give
byte-identical files. Generation is vectorised (numpy + pyarrow compute kernels); rows are
rendered in chunks and each file is a contiguous slice of its wave's rendered rows.
"""

from pipeline.panel.synth.layouts import (
    COLUMNS,
    META,
    SURVEY_IDS,
    TIME_COLUMNS,
    UNKNOWN_SURVEY_IDS,
    WAVE1_DROPPED,
    WAVE3_INSERTED,
    WAVES,
    export_name,
    layout,
)
from pipeline.panel.synth.options import Rates, SynthSpec
from pipeline.panel.synth.write import CHUNK_ROWS, generate_panel, write_panel

__all__ = [
    "CHUNK_ROWS",
    "COLUMNS",
    "META",
    "SURVEY_IDS",
    "TIME_COLUMNS",
    "UNKNOWN_SURVEY_IDS",
    "WAVE1_DROPPED",
    "WAVE3_INSERTED",
    "WAVES",
    "Rates",
    "SynthSpec",
    "export_name",
    "generate_panel",
    "layout",
    "write_panel",
]
