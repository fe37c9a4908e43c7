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

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "SURVEY_IDS",
    "UNKNOWN_SURVEY_IDS",
    "Rates",
    "SynthSpec",
    "export_name",
    "generate_panel",
    "layout",
    "write_panel",
]

SURVEY_IDS = {1: "SV_8zYl1sFN6fAFIxv", 2: "SV_cT2ri3tFp2dhJGZ", 3: "SV_8bKZvWZcGbvzsz3"}
UNKNOWN_SURVEY_IDS = ("SV_9GqH2bXcTt0wLk1", "SV_bJ8nU4rXpZ6yQmA")  # not in the wave table
WAVES = (1, 2, 3)
TIME_COLUMNS = ("StartDate", "EndDate", "RecordedDate")

# --- layouts ----------------------------------------------------------------------------
_A1 = "In the past 24 hours, have you or anyone in your household experienced any of the following: - "
_B2 = (
    "The rest of the survey will go into more detail to get a better understanding of your "
    "personal experience.\nIn the past 24 hours, have you personally experienced any of the "
    "following symptoms?  (Select all that apply.) - "
)
_CONTACT = (
    '["Direct contact" means: a conversation lasting more than 5 minutes with a person who is '
    "closer than 6 feet away from you{comma} or physical contact like hand-shaking, hugging, "
    "or kissing.]"
)
_C10 = (
    "In the past 24 hours, with how many people have you had direct contact, outside of your "
    "household?  Your best estimate is fine." + _CONTACT.format(comma=",") + " - "
)
_S1 = (
    "This voluntary survey is part of a research study led by the Delphi group at Carnegie "
    "Mellon University. Even if you are healthy, your responses may contribute to a better "
    "public health understanding of where the coronavirus pandemic is moving, to improve our "
    "local and national responses.\nThe data captured does not include any personally "
    "identifiable information about you and your answers to all questions will remain "
    "confidential. Published results will be in aggregate and will not identify individual "
    "participants or their responses.  This study is not conducted by Facebook and no "
    "individual responses will be shared back to Facebook.  The only information we receive "
    "from Facebook is a random ID number and a statistical number that help us weigh "
    "participation properly.  Your responses may be shared with other public health "
    "researchers, including those at the University of Maryland. There are no foreseeable "
    "risks in participating and no compensation is offered.\nIf you have any questions, "
    "contact: delphi-admin-survey-fb@lists.andrew.cmu.edu\nYou must be 18 years or older to "
    "take this survey. Are you 18 years or older?"
)
_SICK = "(fever, along with at least one other symptom from the above list)?"

# (name, ImportId, question text): the wave-2 layout, exactly as in the fixture.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("StartDate", "startDate", "Start Date"),
    ("EndDate", "endDate", "End Date"),
    ("Status", "status", "Response Type"),
    ("Progress", "progress", "Progress"),
    ("Duration..in.seconds.", "duration", "Duration (in seconds)"),
    ("Finished", "finished", "Finished"),
    ("RecordedDate", "recordedDate", "Recorded Date"),
    ("ResponseId", "_recordId", "Response ID"),
    ("DistributionChannel", "distributionChannel", "Distribution Channel"),
    ("UserLanguage", "userLanguage", "User Language"),
    ("S1", "QID1", _S1),
    ("A1_1", "QID3_1", _A1 + "Fever (100°F or higher)"),
    ("A1_2", "QID3_2", _A1 + "Sore throat"),
    ("A1_3", "QID3_3", _A1 + "Cough"),
    ("A1_4", "QID3_4", _A1 + "Shortness of breath"),
    ("A1_5", "QID3_5", _A1 + "Difficulty breathing"),
    ("A2", "QID4_TEXT", "How many people in your household (including&nbspyourself) are sick " + _SICK),
    ("A2b", "QID5_TEXT", "How many people are there in your household in total (including yourself)?"),
    ("A3", "QID6_TEXT", "What is your current ZIP code?"),
    ("A4", "QID45_TEXT", "How many additional people in your local community that you know personally are sick " + _SICK),
    ("B2", "QID39", _B2 + "Selected Choice"),
    ("B2_14_TEXT", "QID39_14_TEXT", _B2 + "Other (Please specify): - Text"),
    ("B2b", "QID11_TEXT", "How long, in days, have you been experiencing these symptoms?"),
    ("B3", "QID12", "You mentioned that you had a fever in the past 24 hours.  Have you taken your temperature?"),
    ("Q40", "QID42_TEXT", "What was your highest temperature, in °F?"),
    ("B4", "QID13", "You mentioned that you experienced a cough in the past 24 hours.  Did you cough up mucus?"),
    ("B5", "QID14", "Have you been tested for COVID-19 (coronavirus) for your current illness?"),
    ("B6", "QID15", "In the past 24 hours, have you been to the hospital to seek care for your current illness?"),
    ("C1", "QID40", "Have you ever been told by a doctor, nurse, or other health professional that you have any of the following medical conditions?\n(Please select all that apply)"),
    ("C2", "QID17", "Have you had a flu shot in the last 12 months?"),
    ("C3", "QID21", "In the past 5 days, have you gone to work outside of your home?"),
    ("C4", "QID23", "In the past 5 days, have you worked or volunteered in a hospital, medical office, ambulance service, first responder services, or any other health care setting?"),
    ("C5", "QID32", "In the past 5 days, have you worked at or visited a long-term care facility or nursing home?"),
    ("C6", "QID24", "In the past 5 days, have you traveled outside of your state?"),
    ("C7", "QID22", "To what extent are you intentionally avoiding contact with other people?"),
    ("C8_1", "QID25_1", "In the past 5 days, how often have you ... - felt nervous, anxious, or on edge?"),
    ("C8_2", "QID25_2", "In the past 5 days, how often have you ... - felt depressed?"),
    ("C9", "QID36", "How do you feel about the possibility that you or someone in your immediate family might become seriously ill from COVID-19 (coronavirus disease)?"),
    ("C10_1_1", "QID20_1_1", _C10 + "At work - Number"),
    ("C10_2_1", "QID20_2_1", _C10 + "Shopping for groceries and other essentials - Number"),
    ("C10_3_1", "QID20_3_1", _C10 + "At social gatherings - Number"),
    ("C10_4_1", "QID20_4_1", _C10 + "Other - Number"),
    ("C11", "QID18", "In the past 24 hours, have you had direct contact with anyone who recently tested positive for COVID-19 (coronavirus)?" + _CONTACT.format(comma="")),
    ("C12", "QID19", "Was this person a member of your household?"),
    ("A3b", "QID8", "50 States, D.C. and Puerto Rico"),
    ("D1", "QID26", "What is your gender? - Selected Choice"),
    ("D1_4_TEXT", "QID26_4_TEXT", "What is your gender? - Prefer to self-describe: - Text"),
    ("D1b", "QID27", "Are you currently pregnant?"),
    ("D2", "QID37", "What is your age?"),
    ("D3", "QID28_TEXT", "How many children under 18 years old currently stay in your household?"),
    ("D4", "QID30_TEXT", "How many adults between 18 and 64 years old currently stay in your household (not including yourself)?"),
    ("D5", "QID31_TEXT", "How many adults 65 years old or older currently stay in your household (not including yourself)?"),
    ("Q36", "QID38", "How much of a threat would you say the coronavirus outbreak is to your household’s finances?"),
    ("token", "token", "token"),
    ("Q_RecaptchaScore", "Q_RecaptchaScore", "Q_RecaptchaScore"),
    ("SurveyID", "SurveyID", "SurveyID"),
    ("Q_TerminateFlag", "Q_TerminateFlag", "Q_TerminateFlag"),
    ("QState_A3", "QState_A3", "QState_A3"),
    ("QCity_A3", "QCity_A3", "QCity_A3"),
)  # fmt: skip

# Wave 1 (the first questionnaire) did not ask these yet.
WAVE1_DROPPED = frozenset({"A2b", "B2b", "Q40", "C11", "C12", "D1b", "Q36", "Q_RecaptchaScore"})
# Wave 3 inserts new questions after the named column.
WAVE3_INSERTED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "B6": (("B8", "QID60", "Have you ever been tested for COVID-19 (coronavirus)?"),),
    "C12": (
        (
            "C13",
            "QID64",
            "In the past 24 hours, which of the following activities have you done outside of "
            "your home?\n(Select all that apply.) - Selected Choice",
        ),
        (
            "C14",
            "QID65",
            "In the past 5 days, how often did you wear a mask when in public, e.g. in a "
            "store, at work, or on public transit?",
        ),
    ),
}

# Metadata: never counts as an answered question (SPEC §3.3).
META = frozenset(
    {
        "StartDate", "EndDate", "Status", "Progress", "Duration..in.seconds.", "Finished",
        "RecordedDate", "ResponseId", "DistributionChannel", "UserLanguage", "S1", "token",
        "Q_RecaptchaScore", "SurveyID", "Q_TerminateFlag", "QState_A3", "QCity_A3",
    }
)  # fmt: skip


def layout(wave: int) -> list[tuple[str, str, str]]:
    """The columns ``(name, ImportId, question text)`` of a wave's export, in order."""
    if wave == 1:
        return [c for c in COLUMNS if c[0] not in WAVE1_DROPPED]
    if wave == 2:
        return list(COLUMNS)
    if wave == 3:
        out: list[tuple[str, str, str]] = []
        for c in COLUMNS:
            out.append(c)
            out.extend(WAVE3_INSERTED.get(c[0], ()))
        return out
    raise ValueError(f"unknown wave {wave}")


def export_name(day: date, wave: int) -> str:
    """``export_{YYYY_mm_dd}_{wave}.csv`` (the day the export was pulled)."""
    return f"export_{day:%Y_%m_%d}_{wave}.csv"


# --- options ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rates:
    """Shares of responses that exercise each rule (exclusive categories first)."""

    preview: float = 0.01  # DistributionChannel "preview", Status 1
    screened: float = 0.01  # S1 = 2 (no age consent): Q_TerminateFlag "Screened", nothing else
    no_s1: float = 0.01  # S1 left empty
    too_few: float = 0.02  # 0 or 1 answered questions (abandoned at once)
    missing_survey: float = 0.005  # empty SurveyID
    unknown_survey: float = 0.002  # a SurveyID outside the wave table
    empty_token: float = 0.003
    # independent of the categories above
    collision: float = 0.005  # share of tokens forwarded: 2-5 responses share the token
    late: float = 0.02  # recorded 1-4 days after the start
    abandoned: float = 0.06  # Finished=0, closed 4 h after the start
    dash_token: float = 0.01  # token starts with '-', exported as '-…
    spam: float = 0.005  # Status 8


@dataclass(frozen=True)
class SynthSpec:
    """Everything that determines the generated files (same spec → same bytes)."""

    start: date
    days: int
    per_day: int
    seed: int = 0
    timezone: str = "America/Los_Angeles"
    na_token: str = ""  # "" = empty cells (Qualtrics); "NA" = bare NA (the fixture)
    quoting: str | None = None  # "all" | "minimal" | "nonnumeric"; None: auto (see _quoting)
    bom: bool = False  # prefix a UTF-8 byte-order mark
    line_terminator: str = "\n"
    pull_hour: int = 5  # exports are pulled at this local hour
    overlap_hours: int = 6  # each export repeats the last hours of the previous window
    utc_export: int | None = 1  # delivery-day index (0-based) whose biggest export is in UTC
    rates: Rates = field(default_factory=Rates)

    def __post_init__(self) -> None:
        if self.days < 1 or self.per_day < 1:
            raise ValueError("days and per_day must be at least 1")
        if self.quoting not in (None, "all", "minimal", "nonnumeric"):
            raise ValueError(f"unknown quoting {self.quoting!r}")
        if self.line_terminator not in ("\n", "\r\n"):
            raise ValueError("line_terminator must be '\\n' or '\\r\\n'")
        if self.na_token and any(ch in self.na_token for ch in ',"\r\n'):
            raise ValueError("na_token must not need quoting")


def generate_panel(
    out_dir: Path | str,
    start: date | str,
    days: int,
    per_day: int,
    seed: int = 0,
    *,
    timezone: str = "America/Los_Angeles",
    **options,
) -> list[Path]:
    """Write the exports of ``days * per_day`` responses into ``out_dir``; return the paths.

    The arguments are those of ``python -m pipeline synth --kind panel --out DIR --start
    YYYY-MM-DD --days N --per-day M [--seed S]``; ``options`` are further :class:`SynthSpec`
    fields (``na_token``, ``quoting``, ``bom``, ``pull_hour``, ``overlap_hours``,
    ``utc_export``, ``rates``, ...).
    """
    if isinstance(start, str):
        start = date.fromisoformat(start)
    spec = SynthSpec(
        start=start, days=days, per_day=per_day, seed=seed, timezone=timezone, **options
    )
    return write_panel(spec, Path(out_dir))


# --- vocabularies -------------------------------------------------------------------------
_LANGS = (
    ("EN", "ES", "ZH-S", "VI", "KO", "FR", "PT-BR", "AR", "TGL"),
    (0.86, 0.08, 0.015, 0.01, 0.01, 0.01, 0.006, 0.004, 0.005),
)
_HOURLY = np.array(
    [2, 1.5, 1, 0.8, 0.8, 1, 1.5, 2.5, 3.5, 4, 4.2, 4.3, 4.3, 4.2, 4.1, 4, 4.1, 4.4, 4.8, 5.2]
    + [5.3, 5, 4.2, 3]
)
_HOURLY = _HOURLY / _HOURLY.sum()
_RECAPTCHA = (("1", "0.9", "0.7", "0.5", "0.3", "0.1"), (0.01, 0.76, 0.12, 0.03, 0.05, 0.03))
_STATES = (
    "CA TX FL NY PA IL OH GA NC MI NJ VA WA AZ MA TN IN MO MD WI CO MN SC AL LA KY OR OK CT "
    "UT IA NV AR MS KS NM NE ID WV HI NH ME MT RI DE SD ND AK DC VT WY"
).split()
_NON_US = ("PR", "GU", "VI", "AE", "ON", "BC")  # territories, military mail, Canada
_CITIES = (
    "Springfield", "Greensboro", "Lagrange", "Dripping Springs", "Saint Paul", "Harrison",
    "Nashville", "Citrus Heights", "Mchenry", "State College", "Tulsa", "Van Wert",
    "Louisville", "Puyallup", "Mesa", "San Antonio", "Stanwood", "Fort Worth", "El Paso",
    "Coeur d'Alene", "Winston-Salem", "St. Louis", "Bowling Green", "Lake Havasu City",
)  # fmt: skip
# Real ZIPs (several with a leading zero) with their city and state.
_ZIPS = (
    ("10025", "New York", "NY"), ("11226", "Brooklyn", "NY"), ("90011", "Los Angeles", "CA"),
    ("94110", "San Francisco", "CA"), ("60629", "Chicago", "IL"), ("77084", "Houston", "TX"),
    ("75217", "Dallas", "TX"), ("85032", "Phoenix", "AZ"), ("19120", "Philadelphia", "PA"),
    ("15213", "Pittsburgh", "PA"), ("02139", "Cambridge", "MA"), ("02124", "Boston", "MA"),
    ("06010", "Bristol", "CT"), ("07030", "Hoboken", "NJ"), ("08701", "Lakewood", "NJ"),
    ("20009", "Washington", "DC"), ("21215", "Baltimore", "MD"), ("23220", "Richmond", "VA"),
    ("27610", "Raleigh", "NC"), ("30318", "Atlanta", "GA"), ("33012", "Hialeah", "FL"),
    ("32801", "Orlando", "FL"), ("37211", "Nashville", "TN"), ("40207", "Louisville", "KY"),
    ("43230", "Columbus", "OH"), ("48197", "Ypsilanti", "MI"), ("53215", "Milwaukee", "WI"),
    ("55106", "Saint Paul", "MN"), ("64118", "Kansas City", "MO"), ("68104", "Omaha", "NE"),
    ("73160", "Oklahoma City", "OK"), ("80219", "Denver", "CO"), ("84120", "Salt Lake City", "UT"),
    ("89110", "Las Vegas", "NV"), ("97229", "Portland", "OR"), ("98052", "Redmond", "WA"),
    ("99501", "Anchorage", "AK"), ("96817", "Honolulu", "HI"), ("00901", "San Juan", "PR"),
    ("03060", "Nashua", "NH"), ("04401", "Bangor", "ME"), ("05401", "Burlington", "VT"),
    ("01002", "Amherst", "MA"), ("70119", "New Orleans", "LA"), ("72204", "Little Rock", "AR"),
    ("39206", "Jackson", "MS"), ("35211", "Birmingham", "AL"), ("29407", "Charleston", "SC"),
    ("46227", "Indianapolis", "IN"), ("50310", "Des Moines", "IA"), ("57104", "Sioux Falls", "SD"),
    ("58103", "Fargo", "ND"), ("59801", "Missoula", "MT"), ("82001", "Cheyenne", "WY"),
    ("83709", "Boise", "ID"), ("87121", "Albuquerque", "NM"), ("66062", "Olathe", "KS"),
    ("25701", "Huntington", "WV"), ("19805", "Wilmington", "DE"), ("02908", "Providence", "RI"),
)  # fmt: skip
_OTHER_SYMPTOM = (
    "headache", "Headache and fatigue", "loss of appetite", "chills", "sneezing, itchy eyes",
    "allergies", "back pain", "dizziness", "Runny nose - allergies i think", "fatigue",
    "body aches, chills", "pink eye", "rash on arms", '"brain fog"', "hot flashes", "ear ache",
    "no energy at all", "Seasonal allergies", "anxiety", "can't sleep",
)  # fmt: skip
_SELF_DESCRIBE = (
    "non-binary", "Nonbinary", "genderqueer", "agender", "Two-Spirit", "trans man",
    "trans woman", "genderfluid", "none of your business", "Human", "prefer not to say",
)  # fmt: skip

# radio: (codes, probabilities, share missing)
_RADIO: dict[str, tuple[tuple[int, ...], tuple[float, ...], float]] = {
    "A1_1": ((1, 2), (0.08, 0.92), 0.01),
    "A1_2": ((1, 2), (0.14, 0.86), 0.01),
    "A1_3": ((1, 2), (0.15, 0.85), 0.01),
    "A1_4": ((1, 2), (0.05, 0.95), 0.01),
    "A1_5": ((1, 2), (0.04, 0.96), 0.01),
    "B3": ((1, 2), (0.55, 0.45), 0.05),
    "B4": ((1, 2), (0.4, 0.6), 0.05),
    "B5": ((1, 2, 3), (0.08, 0.87, 0.05), 0.05),
    "B6": ((1, 2), (0.03, 0.97), 0.05),
    "B8": ((1, 2, 3), (0.25, 0.72, 0.03), 0.05),
    "C2": ((1, 2), (0.45, 0.55), 0.05),
    "C3": ((1, 2), (0.3, 0.7), 0.05),
    "C4": ((1, 2), (0.08, 0.92), 0.05),
    "C5": ((1, 2), (0.04, 0.96), 0.05),
    "C6": ((1, 2), (0.05, 0.95), 0.05),
    "C7": ((1, 2, 3, 4), (0.5, 0.3, 0.15, 0.05), 0.05),
    "C8_1": ((1, 2, 3, 4), (0.35, 0.3, 0.2, 0.15), 0.06),
    "C8_2": ((1, 2, 3, 4), (0.45, 0.25, 0.18, 0.12), 0.06),
    "C9": ((1, 2, 3, 4), (0.2, 0.35, 0.3, 0.15), 0.06),
    "C11": ((1, 2), (0.06, 0.94), 0.06),
    "C12": ((1, 2), (0.5, 0.5), 0.02),
    "C14": ((1, 2, 3, 4, 5), (0.6, 0.2, 0.1, 0.05, 0.05), 0.05),
    "A3b": (tuple(range(1, 53)), tuple([1 / 52] * 52), 0.1),
    "D1": ((1, 2, 3, 4, 5), (0.42, 0.54, 0.01, 0.01, 0.02), 0.05),
    "D1b": ((1, 2, 3), (0.04, 0.9, 0.06), 0.03),
    "D2": ((1, 2, 3, 4, 5, 6, 7), (0.1, 0.2, 0.2, 0.18, 0.17, 0.1, 0.05), 0.05),
    "Q36": ((1, 2, 3, 4), (0.2, 0.35, 0.3, 0.15), 0.06),
}
# multi-select: (number of codes, per-code probability, exclusive "none" code, P(none), missing)
_MULTI: dict[str, tuple[int, float, int, float, float]] = {
    "B2": (15, 0.12, 15, 0.55, 0.02),
    "C1": (12, 0.1, 9, 0.5, 0.04),
    "C13": (8, 0.3, 8, 0.2, 0.05),
}
# numeric open-ended: (max int, floats, outliers, P(float), P(outlier), missing); every value
# is a number (the survey's number boxes take nothing else)
_NUMERIC: dict[str, tuple[int, tuple[str, ...], tuple[str, ...], float, float, float]] = {
    "A2": (9, ("0.0", "1.0", "2.0", "1.5", "2.5", "0.5"), ("10", "12", "15", "20", "11", "14"), 0.02, 0.01, 0.03),
    "A2b": (15, ("2.0", "3.0", "4.0", "2.5", "1.0"), ("20", "25", "30", "18", "16"), 0.015, 0.01, 0.03),
    "A4": (60, ("1.0", "2.0", "0.5"), ("100", "75", "200", "80", "150"), 0.005, 0.02, 0.06),
    "B2b": (60, ("0.5", "1.5", "2.0", "3.0", "7.0"), ("90", "120", "180", "365", "100"), 0.02, 0.03, 0.05),
    "C10_1_1": (500, ("0.0", "1.0", "2.5", "10.0"), ("1000", "750", "2000", "600", "1500"), 0.01, 0.01, 0.1),
    "C10_2_1": (500, ("0.0", "1.0", "2.5", "10.0"), ("1000", "750", "2000", "600", "1500"), 0.01, 0.01, 0.1),
    "C10_3_1": (500, ("0.0", "1.0", "2.5", "10.0"), ("1000", "750", "2000", "600", "1500"), 0.01, 0.01, 0.12),
    "C10_4_1": (500, ("0.0", "1.0", "2.5", "10.0"), ("1000", "750", "2000", "600", "1500"), 0.01, 0.01, 0.15),
    "D3": (9, ("1.0", "2.0", "0.0"), ("10", "11", "12"), 0.01, 0.005, 0.08),
    "D4": (12, ("1.0", "2.0", "0.0"), ("15", "14", "20"), 0.01, 0.005, 0.08),
    "D5": (6, ("1.0", "2.0", "0.0"), ("8", "7", "10"), 0.01, 0.005, 0.08),
}  # fmt: skip
# numeric ints: geometric parameter and share of zeros (before the geometric tail)
_INT_SHAPE = {
    "A2": (0.75, 0.78), "A2b": (0.45, 0.0), "A4": (0.3, 0.5), "B2b": (0.2, 0.05),
    "C10_1_1": (0.08, 0.55), "C10_2_1": (0.25, 0.3), "C10_3_1": (0.15, 0.7),
    "C10_4_1": (0.2, 0.75), "D3": (0.55, 0.55), "D4": (0.5, 0.1), "D5": (0.6, 0.75),
}  # fmt: skip
# skip logic: column → (condition column, code that must be chosen; 0 = any symptom)
_SHOWN_IF = {
    "B2_14_TEXT": ("B2", 14), "B2b": ("B2", 0), "B3": ("B2", 1), "Q40": ("B3", 1),
    "B4": ("B2", 2), "B5": ("B2", 0), "B6": ("B2", 0), "C12": ("C11", 1),
    "D1_4_TEXT": ("D1", 4), "D1b": ("D1", 2),
}  # fmt: skip
_TEXT = {"B2_14_TEXT": (_OTHER_SYMPTOM, 0.1), "D1_4_TEXT": (_SELF_DESCRIBE, 0.15)}
_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
_TOKEN_CHARS = np.frombuffer(_ALNUM.tobytes() + b"-_", np.uint8)
_NUMBER_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")


# --- column model -------------------------------------------------------------------------
@dataclass
class _Fmt:
    quoting: str
    na: str

    def quote(self, s: str) -> str:
        """Quote one known value for the chosen quoting mode."""
        if self.quoting == "all":
            need = True
        elif self.quoting == "minimal":
            need = any(ch in s for ch in ',"\r\n') or (bool(self.na) and s == self.na)
        else:
            need = _NUMBER_RE.fullmatch(s) is None
        return '"' + s.replace('"', '""') + '"' if need else s

    def quote_array(self, arr: pa.Array, numeric: bool = False) -> pa.Array:
        """Quote a string array as the mode says (numbers only under "all"); nulls → NA."""
        if self.quoting == "all":
            need = None
        elif numeric and self.quoting == "nonnumeric":
            return pc.fill_null(arr, self.na)
        elif self.quoting == "minimal":
            need = pc.match_substring_regex(arr, r'[",\r\n]')
            if self.na:
                need = pc.or_(need, pc.equal(arr, self.na))
        else:
            need = pc.invert(pc.match_substring_regex(arr, f"^{_NUMBER_RE.pattern}$"))
        if need is None or pc.any(need).as_py():
            body = pc.replace_substring(arr, '"', '""')
            quoted = pc.binary_join_element_wise('"', body, '"', "")
            arr = quoted if need is None else pc.if_else(need, quoted, arr)
        return pc.fill_null(arr, self.na)


@dataclass
class _Col:
    """One column of the simulated responses, rendered to CSV fields chunk by chunk."""

    kind: str  # "vocab" (codes into vocab, -1 missing) | "int" | "time" | "multi" | "bytes"
    data: np.ndarray
    vocab: tuple[str, ...] = ()
    missing: np.ndarray | None = None  # for "multi" and "bytes"
    none_code: int = 0  # for "multi"

    def blank(self, mask: np.ndarray) -> None:
        if self.kind == "vocab":
            self.data[mask] = -1
        elif self.kind in ("multi", "bytes"):
            self.missing = mask.copy() if self.missing is None else (self.missing | mask)
        else:
            raise TypeError(f"cannot blank a {self.kind} column")

    def present(self) -> np.ndarray:
        if self.kind == "vocab":
            return self.data >= 0
        return ~self.missing if self.missing is not None else np.ones(len(self.data), bool)

    def chose(self, code: int) -> np.ndarray:
        """Rows whose answer is ``code`` (for a multi-select, includes it; 0 = any but none)."""
        if self.kind == "multi":
            if code == 0:
                return self.present() & ~self.data[:, self.none_code - 1]
            return self.present() & self.data[:, code - 1]
        return self.data == self.vocab.index(str(code))


class _Renderer:
    def __init__(self, fmt: _Fmt) -> None:
        self.fmt = fmt
        self._vocab_cache: dict[int, pa.Array] = {}

    def field(self, col: _Col, rows: np.ndarray, tz: str) -> pa.Array:
        fmt = self.fmt
        if col.kind == "vocab":
            key = id(col)
            if key not in self._vocab_cache:
                self._vocab_cache[key] = pa.array([fmt.quote(v) for v in col.vocab] + [fmt.na])
            codes = col.data[rows]
            codes = np.where(codes < 0, len(col.vocab), codes).astype(np.int32)
            return self._vocab_cache[key].take(pa.array(codes))
        if col.kind == "int":
            return fmt.quote_array(pc.cast(pa.array(col.data[rows]), pa.string()), numeric=True)
        if col.kind == "time":
            return self._time(col.data[rows], tz)
        if col.kind == "multi":
            bits = col.data[rows]
            row_of, code = np.nonzero(bits)
            counts = np.bincount(row_of, minlength=len(rows))
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            labels = pa.array([str(i + 1) for i in range(bits.shape[1])])
            values = labels.take(pa.array(code.astype(np.int32)))
            joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), ",")
            if col.missing is not None:
                joined = pc.if_else(
                    pa.array(col.missing[rows]), pa.nulls(len(rows), pa.string()), joined
                )
            return fmt.quote_array(joined)
        if col.kind == "bytes":
            mask = None if col.missing is None else col.missing[rows]
            arr = pa.array(col.data[rows], type=pa.binary(), mask=mask).cast(pa.string())
            return fmt.quote_array(arr)
        raise TypeError(col.kind)

    def _time(self, epochs: np.ndarray, tz: str) -> pa.Array:
        ts = pd.to_datetime(epochs, unit="s", utc=True)
        if tz != "UTC":
            ts = ts.tz_convert(tz)
        local = ts.tz_localize(None).to_numpy().astype("datetime64[s]")
        text = pc.cast(pa.array(local), pa.string())
        if self.fmt.quoting == "minimal":
            return text
        return pc.binary_join_element_wise('"', text, '"', "")

    def lines(
        self, cols: list[_Col], rows: np.ndarray, tz: str, term: str
    ) -> tuple[bytes, np.ndarray]:
        """CSV rows for ``rows``: the bytes and the int64 offset of each row (plus the end)."""
        fields = [self.field(c, rows, tz) for c in cols]
        joined = pc.binary_join_element_wise(*fields, ",")
        joined = pc.binary_join_element_wise(joined, term, "")
        if isinstance(joined, pa.ChunkedArray):
            joined = joined.combine_chunks()
        kind = np.int64 if pa.types.is_large_string(joined.type) else np.int32
        offs = np.frombuffer(joined.buffers()[1], kind)[
            joined.offset : joined.offset + len(rows) + 1
        ]
        data = memoryview(joined.buffers()[2])[int(offs[0]) : int(offs[-1])]
        return bytes(data), offs.astype(np.int64) - int(offs[0])


# --- simulation ---------------------------------------------------------------------------
@dataclass
class _Panel:
    cols: dict[str, _Col]
    wave: np.ndarray
    recorded: np.ndarray


def _random_strings(
    rng: np.random.Generator, n: int, length: int, alphabet: np.ndarray
) -> np.ndarray:
    return alphabet[rng.integers(0, len(alphabet), size=(n, length))]


def _as_bytes(mat: np.ndarray) -> np.ndarray:
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    return mat.view(f"S{mat.shape[1]}").ravel()


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + 48).astype(np.uint8)


def _vocab_col(codes: np.ndarray, vocab: tuple[str, ...] | list[str]) -> _Col:
    return _Col("vocab", codes.astype(np.int32), tuple(vocab))


def _choice(rng: np.random.Generator, n: int, probs, missing: float = 0.0) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    codes = rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int32)
    if missing:
        codes[rng.random(n) < missing] = -1
    return codes


def _radio(rng: np.random.Generator, n: int, name: str) -> _Col:
    codes, probs, missing = _RADIO[name]
    return _vocab_col(_choice(rng, n, probs, missing), [str(c) for c in codes])


def _multi(rng: np.random.Generator, n: int, name: str) -> _Col:
    k, p_each, none_code, p_none, missing = _MULTI[name]
    weights = p_each * np.linspace(1.6, 0.4, k)  # earlier options are chosen more often
    bits = rng.random((n, k)) < weights
    bits[:, none_code - 1] = False
    empty = ~bits.any(axis=1)
    pick = rng.integers(0, k, size=n)
    pick = np.where(pick == none_code - 1, (pick + 1) % k, pick)
    bits[empty, pick[empty]] = True
    none = rng.random(n) < p_none
    bits[none] = False
    bits[none, none_code - 1] = True
    return _Col("multi", bits, missing=rng.random(n) < missing, none_code=none_code)


def _numeric(rng: np.random.Generator, n: int, name: str) -> _Col:
    max_int, floats, odd, p_float, p_odd, missing = _NUMERIC[name]
    p_geom, p_zero = _INT_SHAPE[name]
    ints = np.minimum(rng.geometric(p_geom, size=n) - (0 if name == "A2b" else 1), max_int)
    ints[rng.random(n) < p_zero] = 0
    vocab = [str(i) for i in range(max_int + 1)] + list(floats) + list(odd)
    codes = ints.astype(np.int32)
    u = rng.random(n)
    is_float = u < p_float
    is_odd = (u >= p_float) & (u < p_float + p_odd)
    codes[is_float] = max_int + 1 + rng.integers(0, len(floats), size=int(is_float.sum()))
    codes[is_odd] = max_int + 1 + len(floats) + rng.integers(0, len(odd), size=int(is_odd.sum()))
    codes[rng.random(n) < missing] = -1
    return _vocab_col(codes, vocab)


def _temperature(rng: np.random.Generator, n: int) -> _Col:
    tenths = [f"{t / 10:.1f}" for t in range(970, 1051)]  # 97.0 .. 105.0 °F
    whole = [str(t) for t in range(98, 105)]
    celsius = ["37.5", "37.8", "38", "38.2", "38.5", "39", "39.4"]
    odd = ["986", "1002", "0", "110", "96.5", "106"]  # typos and outliers, numbers still
    vocab = tenths + whole + celsius + odd
    t = np.clip(np.rint(rng.normal(1005, 9, size=n)), 970, 1050).astype(np.int32) - 970
    u = rng.random(n)
    codes = t.copy()
    w = (u >= 0.6) & (u < 0.86)
    codes[w] = len(tenths) + np.clip((t[w] + 970) // 10 - 98, 0, len(whole) - 1)
    c = (u >= 0.86) & (u < 0.95)
    codes[c] = len(tenths) + len(whole) + rng.integers(0, len(celsius), size=int(c.sum()))
    j = u >= 0.95
    codes[j] = (
        len(tenths) + len(whole) + len(celsius) + rng.integers(0, len(odd), size=int(j.sum()))
    )
    codes[rng.random(n) < 0.04] = -1
    return _vocab_col(codes, vocab)


def _text(rng: np.random.Generator, n: int, name: str) -> _Col:
    phrases, missing = _TEXT[name]
    variants: list[Callable[[str], str]] = [
        lambda s: s,
        lambda s: " " + s,
        lambda s: s + " ",
        lambda s: "  " + s + "   ",
        lambda s: s.replace(" ", "  "),
        lambda s: s.replace(" ", "   ", 1) + "  ",
        lambda s: s.replace(" ", "\n", 1) if " " in s else s + "\n",
    ]
    p_var = (0.68, 0.07, 0.08, 0.05, 0.07, 0.04, 0.01)
    vocab = [v(p) for p in phrases for v in variants]
    phrase = rng.integers(0, len(phrases), size=n)
    variant = _choice(rng, n, p_var)
    codes = (phrase * len(variants) + variant).astype(np.int32)
    codes[rng.random(n) < missing] = -1
    return _vocab_col(codes, vocab)


def _zips(rng: np.random.Generator, n: int) -> tuple[_Col, _Col, _Col]:
    """A3 (ZIP as typed), QState_A3 and QCity_A3 (Qualtrics' lookup of it)."""
    kind = _choice(
        rng, n, (0.72, 0.2, 0.015, 0.01, 0.005)
    )  # table, random, 9-digit, zip+4, 4-digit
    rank = np.arange(1, len(_ZIPS) + 1)
    table = _choice(rng, n, 1 / np.sqrt(rank))
    rand5 = rng.integers(0, 100000, size=n)
    plus4 = rng.integers(0, 10000, size=n)
    zip5 = np.where(kind == 0, np.array([int(z) for z, _c, _s in _ZIPS])[table], rand5)
    d5, d4 = _digits(zip5, 5), _digits(plus4, 4)
    out = np.zeros((n, 10), np.uint8)
    out[:, :5] = d5
    nine = kind == 2
    out[nine, 5:9] = d4[nine]
    dash = kind == 3
    out[dash, 5] = ord("-")
    out[dash, 6:10] = d4[dash]
    short = kind == 4  # a spreadsheet dropped the leading digit
    out[short, :4] = d5[short, 1:]
    out[short, 4] = 0
    zip_missing = rng.random(n) < 0.05

    states = list(_STATES) + list(_NON_US)
    known = kind == 0
    state_of_table = np.array([states.index(s) for _z, _c, s in _ZIPS])
    guess = _choice(rng, n, [1.0] * len(_STATES) + [0.5] * len(_NON_US))
    state = np.where(known, state_of_table[table], guess).astype(np.int32)
    state[~known & (rng.random(n) < 0.4)] = -1
    cities = list(_CITIES) + [c for _z, c, _s in _ZIPS if c not in _CITIES]
    city_of_table = np.array([cities.index(c) for _z, c, _s in _ZIPS])
    city = np.where(known, city_of_table[table], rng.integers(0, len(cities), size=n)).astype(
        np.int32
    )
    city[rng.random(n) < np.where(known, 0.08, 0.5)] = -1
    state[zip_missing] = -1
    city[zip_missing] = -1
    return (
        _Col("bytes", _as_bytes(out), missing=zip_missing),
        _vocab_col(state, states),
        _vocab_col(city, cities),
    )


def _midnights(start: date, count: int, zone: ZoneInfo) -> np.ndarray:
    return np.array(
        [
            int(datetime.combine(start + timedelta(days=k), datetime.min.time(), zone).timestamp())
            for k in range(count)
        ],
        dtype=np.int64,
    )


def _simulate(spec: SynthSpec) -> _Panel:
    """Draw every response (one long, linear recipe; the draw order is part of the output)."""
    rng = np.random.Generator(np.random.PCG64(spec.seed))
    rates = spec.rates
    zone = ZoneInfo(spec.timezone)
    n = spec.days * spec.per_day

    # when: a diurnal start time on each day (DST-aware day lengths)
    mid = _midnights(spec.start, spec.days + 1, zone)
    day_len = np.diff(mid)
    day = np.repeat(np.arange(spec.days), spec.per_day)
    frac = (rng.choice(24, size=n, p=_HOURLY) + rng.random(n)) / 24
    start = mid[day] + (frac * day_len[day]).astype(np.int64)

    # wave: switches at 1/3 and 2/3 of the range, each spread over about a day
    pos = day + frac + rng.random(n) - 0.5
    wave = (1 + (pos > spec.days / 3) + (pos > 2 * spec.days / 3)).astype(np.int8)

    # exclusive rule-exerciser categories
    cats = (
        rates.preview, rates.screened, rates.no_s1, rates.too_few,
        rates.missing_survey, rates.unknown_survey, rates.empty_token,
    )  # fmt: skip
    preview, screened, no_s1, too_few, no_survey, unknown_survey, no_token = (
        np.searchsorted(np.cumsum(cats), rng.random(n), side="right")[None, :]
        == np.arange(len(cats))[:, None]
    )

    # timing
    abandoned = ((rng.random(n) < rates.abandoned) & ~preview & ~screened) | too_few
    late = (rng.random(n) < rates.late) & ~abandoned & ~screened
    duration = np.clip(rng.lognormal(np.log(420), 0.6, size=n), 40, 5400).astype(np.int64)
    duration[screened] = rng.integers(4, 40, size=int(screened.sum()))
    progress = np.full(n, 100, np.int64)
    progress[abandoned] = rng.integers(10, 100, size=int(abandoned.sum()))
    progress[too_few] = rng.integers(1, 10, size=int(too_few.sum()))
    lag = rng.integers(86400, 4 * 86400 + 1, size=n)
    settle = rng.integers(0, 3, size=n)

    # identities; forwarded links share the original's token
    rid = np.empty((n, 17), np.uint8)
    rid[:, :2] = np.frombuffer(b"R_", np.uint8)
    rid[:, 2:] = _random_strings(rng, n, 15, _ALNUM)
    tok = np.empty((n, 17), np.uint8)
    tok[:, 0] = _random_strings(rng, n, 1, _ALNUM)[:, 0]
    tok[:, 1:] = _random_strings(rng, n, 16, _TOKEN_CHARS)
    tok[rng.random(n) < rates.dash_token, 0] = ord("-")
    in_group = np.zeros(n, bool)
    groups = int(round(rates.collision * n)) if n < 20 else max(1, int(round(rates.collision * n)))
    by_start = np.argsort(start, kind="stable")
    sorted_start = start[by_start]
    sizes = rng.choice([2, 3, 4, 5], size=groups, p=[0.6, 0.22, 0.12, 0.06])
    origins = rng.choice(n, size=groups, replace=False) if groups else np.zeros(0, np.int64)
    gaps = rng.exponential(6 * 3600, size=(groups, 4)) + 1
    far = rng.random((groups, 4)) < 0.1  # a link still circulating days later
    gaps[far] = rng.uniform(86400, 14 * 86400, size=int(far.sum()))
    late_origin = rng.random(groups) < 0.35
    for g in range(groups):
        o = int(origins[g])
        if in_group[o]:
            continue
        in_group[o] = True
        targets = np.searchsorted(sorted_start, start[o] + gaps[g, : sizes[g] - 1].astype(np.int64))
        for p in targets:
            while p < n and in_group[by_start[p]]:
                p += 1
            if p >= n:
                break
            m = by_start[p]
            in_group[m] = True
            tok[m] = tok[o]
        if late_origin[g]:  # the original started first but is recorded days later
            late[o], abandoned[o], progress[o] = True, False, 100
    no_token |= preview & (rng.random(n) < 0.3)
    no_token &= ~in_group
    dash = tok[:, 0] == ord("-")
    tok_out = np.zeros((n, 18), np.uint8)
    tok_out[~dash, :17] = tok[~dash]
    tok_out[dash, 0] = ord("'")
    tok_out[dash, 1:] = tok[dash]

    end = start + duration
    recorded = end + settle
    end[abandoned] = recorded[abandoned] = start[abandoned] + 4 * 3600
    end[late] = recorded[late] = start[late] + lag[late]
    duration = end - start
    finished = ~abandoned

    cols: dict[str, _Col] = {
        "StartDate": _Col("time", start),
        "EndDate": _Col("time", end),
        "RecordedDate": _Col("time", recorded),
        "Progress": _Col("int", progress),
        "Duration..in.seconds.": _Col("int", duration),
        "Finished": _vocab_col(finished.astype(np.int32), ("0", "1")),
        "ResponseId": _Col("bytes", _as_bytes(rid)),
        "token": _Col("bytes", _as_bytes(tok_out), missing=no_token),
    }
    status = np.zeros(n, np.int32)
    status[preview] = 1
    status[(rng.random(n) < rates.spam) & ~preview] = 2
    cols["Status"] = _vocab_col(status, ("0", "1", "8"))
    cols["DistributionChannel"] = _vocab_col(preview.astype(np.int32), ("anonymous", "preview"))
    lang = _choice(rng, n, _LANGS[1])
    lang[preview] = 0
    cols["UserLanguage"] = _vocab_col(lang, _LANGS[0])
    s1 = np.where(screened, 1, 0).astype(np.int32)
    s1[no_s1] = -1
    cols["S1"] = _vocab_col(s1, ("1", "2"))
    survey = (wave - 1).astype(np.int32)
    survey[unknown_survey] = 3 + rng.integers(
        0, len(UNKNOWN_SURVEY_IDS), size=int(unknown_survey.sum())
    )
    survey[no_survey] = -1
    cols["SurveyID"] = _vocab_col(survey, tuple(SURVEY_IDS.values()) + UNKNOWN_SURVEY_IDS)
    cols["Q_TerminateFlag"] = _vocab_col(np.where(screened, 0, -1), ("Screened",))
    score = _choice(rng, n, _RECAPTCHA[1], 0.03)
    score[preview] = -1
    cols["Q_RecaptchaScore"] = _vocab_col(score, _RECAPTCHA[0])

    # answers, in questionnaire order (skip logic refers to earlier columns)
    questions = [c for c, _i, _t in layout(3) if c not in META]
    for name in questions:
        if name == "A3":
            cols["A3"], cols["QState_A3"], cols["QCity_A3"] = _zips(rng, n)
        elif name == "Q40":
            cols[name] = _temperature(rng, n)
        elif name in _RADIO:
            cols[name] = _radio(rng, n, name)
        elif name in _MULTI:
            cols[name] = _multi(rng, n, name)
        elif name in _NUMERIC:
            cols[name] = _numeric(rng, n, name)
        elif name in _TEXT:
            cols[name] = _text(rng, n, name)
        else:
            raise AssertionError(f"no generator for {name}")
        if name in _SHOWN_IF:
            on, code = _SHOWN_IF[name]
            cols[name].blank(~cols[on].chose(code))

    # unanswered: screened out, abandoned part-way, or (too few) almost nothing at all
    rank = np.arange(len(questions)) / len(questions)
    keep_one = too_few & (rng.random(n) < 0.5)
    kept = rng.integers(1, 6, size=n)
    kept_code = rng.integers(0, 2, size=n).astype(np.int32)
    for j, name in enumerate(questions):
        gone = screened | too_few | (abandoned & (rank[j] * 100 >= progress))
        cols[name].blank(gone)
    for k in range(1, 6):
        rows = keep_one & (kept == k)
        cols[f"A1_{k}"].data[rows] = kept_code[rows]
    no_zip = ~cols["A3"].present()
    cols["QState_A3"].blank(no_zip)
    cols["QCity_A3"].blank(no_zip)
    return _Panel(cols=cols, wave=wave, recorded=recorded)


# --- writing ------------------------------------------------------------------------------
def _quoting(spec: SynthSpec) -> str:
    # Qualtrics quotes every value and leaves missing cells empty; the fixture (an R
    # re-export) quotes strings only and writes a bare NA.
    if spec.quoting:
        return spec.quoting
    return "nonnumeric" if spec.na_token else "all"


def _header(wave: int, tz: str, spec: SynthSpec) -> bytes:
    cols = layout(wave)
    meta = []
    for name, import_id, _text in cols:
        obj = {"ImportId": import_id}
        if name in TIME_COLUMNS:
            obj["timeZone"] = tz
        meta.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator=spec.line_terminator)
    w.writerow([c[0] for c in cols])
    w.writerow([c[2] for c in cols])
    w.writerow(meta)
    return ("\ufeff" if spec.bom else "").encode() + buf.getvalue().encode("utf-8")


def _deliveries(spec: SynthSpec, last_recorded: int) -> list[tuple[date, int]]:
    """(delivery day, pull time) from the day after the first start until all is delivered."""
    zone = ZoneInfo(spec.timezone)
    out: list[tuple[date, int]] = []
    day = spec.start
    while not out or out[-1][1] < last_recorded:
        day += timedelta(days=1)
        pull = datetime.combine(day, datetime.min.time(), zone).replace(hour=spec.pull_hour)
        out.append((day, int(pull.timestamp())))
    return out


CHUNK_ROWS = 1 << 17


def write_panel(spec: SynthSpec, out_dir: Path) -> list[Path]:
    """Simulate the panel of ``spec`` and write its exports into ``out_dir``."""
    panel = _simulate(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    fmt = _Fmt(_quoting(spec), spec.na_token)
    renderer = _Renderer(fmt)
    deliveries = _deliveries(spec, int(panel.recorded.max()))
    overlap = spec.overlap_hours * 3600

    # which rows each (delivery, wave) file holds: a slice of the wave's rows by RecordedDate
    plans: list[tuple[int, int, np.ndarray, list[tuple[int, int, int]]]] = []
    for wave in WAVES:
        rows = np.flatnonzero(panel.wave == wave)
        rows = rows[np.argsort(panel.recorded[rows], kind="stable")]
        rec = panel.recorded[rows]
        slices = []
        for k, (_day, pull) in enumerate(deliveries):
            lo = 0 if k == 0 else int(np.searchsorted(rec, deliveries[k - 1][1] - overlap, "right"))
            hi = int(np.searchsorted(rec, pull, "right"))
            if hi > lo:
                slices.append((k, lo, hi))
        plans.append((wave, len(rows), rows, slices))
    # The UTC export: the biggest file of the ``utc_export``-th delivery day.
    utc_file: tuple[int, int] | None = None  # (delivery, wave)
    candidates = [
        (hi - lo, -w, k) for w, _n, _r, sl in plans for k, lo, hi in sl if k == spec.utc_export
    ]
    if candidates:
        _size, neg_wave, k = max(candidates)
        utc_file = (k, -neg_wave)

    written: list[Path] = []
    for wave, count, rows, slices in plans:
        if not slices:
            continue
        cols = [panel.cols[c] for c, _i, _t in layout(wave)]
        parts, offsets, base = [], [np.zeros(1, np.int64)], 0
        for lo in range(0, count, CHUNK_ROWS):
            data, offs = renderer.lines(
                cols, rows[lo : lo + CHUNK_ROWS], spec.timezone, spec.line_terminator
            )
            parts.append(data)
            offsets.append(offs[1:] + base)
            base += len(data)
        body = memoryview(b"".join(parts))
        offs = np.concatenate(offsets)
        local_header = _header(wave, spec.timezone, spec)
        for k, lo, hi in slices:
            path = out_dir / export_name(deliveries[k][0], wave)
            with open(path, "wb") as fh:
                if utc_file == (k, wave):
                    data, _ = renderer.lines(cols, rows[lo:hi], "UTC", spec.line_terminator)
                    fh.write(_header(wave, "UTC", spec))
                    fh.write(data)
                else:
                    fh.write(local_header)
                    fh.write(body[int(offs[lo]) : int(offs[hi])])
            written.append(path)
    return sorted(written)
