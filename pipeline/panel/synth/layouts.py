"""The waves' export layouts, survey ids and the vocabularies the simulation draws from."""

from __future__ import annotations

import re
from datetime import date

import numpy as np

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


# --- vocabularies -------------------------------------------------------------------------
LANGS = (
    ("EN", "ES", "ZH-S", "VI", "KO", "FR", "PT-BR", "AR", "TGL"),
    (0.86, 0.08, 0.015, 0.01, 0.01, 0.01, 0.006, 0.004, 0.005),
)
HOURLY = np.array(
    [2, 1.5, 1, 0.8, 0.8, 1, 1.5, 2.5, 3.5, 4, 4.2, 4.3, 4.3, 4.2, 4.1, 4, 4.1, 4.4, 4.8, 5.2]
    + [5.3, 5, 4.2, 3]
)
HOURLY = HOURLY / HOURLY.sum()
RECAPTCHA = (("1", "0.9", "0.7", "0.5", "0.3", "0.1"), (0.01, 0.76, 0.12, 0.03, 0.05, 0.03))
STATES = (
    "CA TX FL NY PA IL OH GA NC MI NJ VA WA AZ MA TN IN MO MD WI CO MN SC AL LA KY OR OK CT "
    "UT IA NV AR MS KS NM NE ID WV HI NH ME MT RI DE SD ND AK DC VT WY"
).split()
NON_US = ("PR", "GU", "VI", "AE", "ON", "BC")  # territories, military mail, Canada
CITIES = (
    "Springfield", "Greensboro", "Lagrange", "Dripping Springs", "Saint Paul", "Harrison",
    "Nashville", "Citrus Heights", "Mchenry", "State College", "Tulsa", "Van Wert",
    "Louisville", "Puyallup", "Mesa", "San Antonio", "Stanwood", "Fort Worth", "El Paso",
    "Coeur d'Alene", "Winston-Salem", "St. Louis", "Bowling Green", "Lake Havasu City",
)  # fmt: skip
# Real ZIPs (several with a leading zero) with their city and state.
ZIPS = (
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
RADIO: dict[str, tuple[tuple[int, ...], tuple[float, ...], float]] = {
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
MULTI: dict[str, tuple[int, float, int, float, float]] = {
    "B2": (15, 0.12, 15, 0.55, 0.02),
    "C1": (12, 0.1, 9, 0.5, 0.04),
    "C13": (8, 0.3, 8, 0.2, 0.05),
}
# numeric open-ended: (max int, floats, outliers, P(float), P(outlier), missing); every value
# is a number (the survey's number boxes take nothing else)
NUMERIC: dict[str, tuple[int, tuple[str, ...], tuple[str, ...], float, float, float]] = {
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
INT_SHAPE = {
    "A2": (0.75, 0.78), "A2b": (0.45, 0.0), "A4": (0.3, 0.5), "B2b": (0.2, 0.05),
    "C10_1_1": (0.08, 0.55), "C10_2_1": (0.25, 0.3), "C10_3_1": (0.15, 0.7),
    "C10_4_1": (0.2, 0.75), "D3": (0.55, 0.55), "D4": (0.5, 0.1), "D5": (0.6, 0.75),
}  # fmt: skip
# skip logic: column → (condition column, code that must be chosen; 0 = any symptom)
SHOWN_IF = {
    "B2_14_TEXT": ("B2", 14), "B2b": ("B2", 0), "B3": ("B2", 1), "Q40": ("B3", 1),
    "B4": ("B2", 2), "B5": ("B2", 0), "B6": ("B2", 0), "C12": ("C11", 1),
    "D1_4_TEXT": ("D1", 4), "D1b": ("D1", 2),
}  # fmt: skip
TEXT = {"B2_14_TEXT": (_OTHER_SYMPTOM, 0.1), "D1_4_TEXT": (_SELF_DESCRIBE, 0.15)}
ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
TOKEN_CHARS = np.frombuffer(ALNUM.tobytes() + b"-_", np.uint8)
NUMBER_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
