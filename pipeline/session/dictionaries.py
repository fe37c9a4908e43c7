"""Data dictionaries of the session-study downloads (SPEC §4.3).

The layouts are the platform's: ``column,description`` for the response overview,
children and demographic snapshots; ``column, description, possible_frame_id,
frame_description, possible_key, key_description`` for the frame data. Descriptions say
which fields must be redacted before publication (global IDs, names, birthdays, exact
ages, free text, ``response__uuid`` next to published videos, rounded ages repeated over
many sessions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from pipeline.session.formats import platform_csv

REDACT = "MUST BE REDACTED FOR PUBLICATION (identifying)."
REDACT_FREE_TEXT = (
    "Free text typed by a person: it may name or identify people. MUST BE REDACTED OR "
    "REVIEWED BEFORE PUBLICATION."
)
REDACT_WITH_VIDEO = (
    "MUST BE REDACTED FOR PUBLICATION if videos are also published: it links these rows "
    "to the video file names."
)
REPEATED_AGES = (
    "May be published; but with several sessions per child, rounded ages and session "
    "dates together can reveal the exact age in days (and so the birthday): then jitter "
    "or redact them."
)
FRAME_PLACEHOLDER = "RESEARCHER: INSERT FRAME DESCRIPTION"
KEY_PLACEHOLDER = "RESEARCHER: INSERT DESCRIPTION OF WHAT THIS KEY MEANS IN THIS FRAME"
EVENT_KEY_PLACEHOLDER = "RESEARCHER: INSERT DESCRIPTION OF WHAT THIS EVENT KEY MEANS"
DICT_COLUMNS = ["column", "description"]
FRAMES_DICT_COLUMNS = [
    "column",
    "description",
    "possible_frame_id",
    "frame_description",
    "possible_key",
    "key_description",
]
ANY_EVENT = "any (event data)"

DESCRIPTIONS = {
    # response overview
    "response__id": "Short numeric ID of this response",
    "response__uuid": (
        "Unique identifier of this response; use as the primary key. Matches the response "
        "part of video file names"
    ),
    "response__date_created": (
        "Time the participant started the session (UTC), e.g. 2019-11-07 17:13:38.395000+00:00"
    ),
    "response__completed": (
        "Whether the participant submitted the exit survey (True also after leaving early "
        "via F1 and submitting the exit survey; False when the exit survey was not submitted "
        "even if every trial was done)"
    ),
    "response__withdrawn": (
        "Whether the parent withdrew video in the (last) exit survey; if True, only the "
        "consent video may be viewed and no other video may be used"
    ),
    "response__eligibility": (
        "Eligibility codes when the session started, one per column response__eligibility.0, "
        "response__eligibility.1, … (this column stays empty): Eligible, or one or more of "
        "Ineligible_TooYoung, Ineligible_TooOld, Ineligible_CriteriaExpression, "
        "Ineligible_Participation"
    ),
    "response__sequence": (
        "Each response__sequence.N column (this column stays empty) gives the frame the "
        "participant saw at position N of the session (<order>-<frame id>); sequences "
        "differ after randomization or when a participant leaves early"
    ),
    "response__conditions": (
        "RESEARCHER: INSERT DESCRIPTION. Each group of response__conditions.N.* columns (this "
        "column stays empty) is one condition assignment: response__conditions.N.frameName "
        "is the randomizer frame (as in response__sequence), the other columns (e.g. "
        "conditionNum) depend on the randomizer"
    ),
    "response__parent_feedback": (
        "Parent's feedback typed in the (last) exit survey. " + REDACT_FREE_TEXT
    ),
    "response__birthdate_difference": (
        "Days from the child's registered birthday to the birth date entered in the (last) "
        "exit survey; positive when the exit-survey date is later, 0 when they agree, empty "
        "without one. The birth dates themselves are not included"
    ),
    "response__video_privacy": (
        "Privacy level chosen for videos in the (last) exit survey: private (only the "
        "study's IRB-listed staff), scientific (scientific and educational use) or public "
        "(also publicity). Treat a missing value as private"
    ),
    "response__databrary": (
        "Whether the parent agreed in the (last) exit survey to share video on Databrary "
        "(yes or no). Treat a missing value as no"
    ),
    "response__is_preview": ("Whether this response is a researcher's preview (not for analysis)"),
    "response__researcher_payment_status": (
        "Payment status set by the researchers: empty, Needs review, To pay, Do not pay or Paid"
    ),
    "response__researcher_session_status": (
        "Session status set by the researchers: empty, To schedule, Scheduled, Session "
        "attended, Session complete, Follow up, Communication complete or Withdrawn or closed"
    ),
    "response__researcher_star": "Whether the researchers starred this response",
    "consent__ruling": "Most recent consent ruling for this response (accepted)",
    "consent__arbiter": "Researcher who made the most recent consent ruling",
    "consent__time": "Time of the most recent consent ruling (UTC), e.g. 2019-12-09 20:40",
    "consent__comment": "Comment of the most recent consent ruling. " + REDACT_FREE_TEXT,
    "study__uuid": "Unique identifier of the study (the same on every row)",
    "participant__global_id": (
        "Global ID of the family account, the same in every study: it would let anyone link "
        "published studies. " + REDACT
    ),
    "participant__hashed_id": (
        "Identifier of the family account, specific to this study (siblings share it); may "
        "be published"
    ),
    "participant__nickname": "Nickname of the family account (often a parent's name). " + REDACT,
    "child__global_id": (
        "Global ID of the child, the same in every study: it would let anyone link published "
        "studies. " + REDACT
    ),
    "child__hashed_id": "Identifier of the child, specific to this study; may be published",
    "child__name": "Child's name or nickname. " + REDACT,
    "child__birthday": "Child's birthday. " + REDACT,
    "child__age_in_days": (
        "Child's exact age in days on the day of the response (UTC); with the response date "
        "it gives the birthday. " + REDACT
    ),
    "child__age_rounded": (
        "Child's age in days on the day of the response, rounded to the nearest 10 days up "
        "to 360 days and to the nearest 30 days after (halves to even). " + REPEATED_AGES
    ),
    "child__gender": "Child's gender: m, f, o (other) or na (prefer not to answer)",
    "child__age_at_birth": "Gestational age at birth (weeks)",
    "child__language_list": "Languages the child hears (language codes, separated by spaces)",
    "child__condition_list": "Characteristics and conditions of the child (codes, separated by spaces)",
    "child__additional_information": (
        "Parent's free-text notes about the child. " + REDACT + " " + REDACT_FREE_TEXT
    ),
    # demographic snapshots
    "demographic__hashed_id": (
        "Identifier of this demographic snapshot, specific to this study; changes when the "
        "parent updates the demographic form; may be published"
    ),
    "demographic__date_created": (
        "Time the demographic snapshot was saved (UTC), e.g. 2019-10-02 21:39:03.713283+00:00"
    ),
    "demographic__number_of_children": "Answer to 'How many children do you have?'",
    "demographic__child_rounded_ages": (
        "Ages in days of the children whose birthdays the parent gave in the demographic "
        "form (not the registered children), on the day of this response, rounded like "
        "child__age_rounded; e.g. [60, 390]. " + REPEATED_AGES
    ),
    "demographic__number_of_guardians": "Number of parents/guardians the children live with",
    "demographic__us_race_ethnicity_identification": (
        "Race/ethnicity categories the family identifies with (codes), e.g. ['white', 'hisp']"
    ),
    "demographic__parent_age": "Parent's age range",
    "demographic__parent_gender": "Parent's gender: m, f, o (other) or na",
    "demographic__education_level": "Parent's highest completed education level (code)",
    "demographic__annual_income": "Approximate yearly family income in US dollars (range code)",
    "demographic__additional_comments": (
        "Parent's answer to 'Anything else you'd like us to know?'. " + REDACT_FREE_TEXT
    ),
    "demographic__country": "Country of residence (2-letter code)",
    "demographic__state": "State of residence if in the US (2-letter code)",
    "demographic__density": "Where the family lives: urban, suburban or rural",
    "demographic__lookit_referrer": (
        "Parent's answer to 'How did you hear about us?'. " + REDACT_FREE_TEXT
    ),
    # frame data
    "response_uuid": "Unique identifier of the response; matches response__uuid and video names",
    "child_hashed_id": (
        "Identifier of the child, specific to this study; matches child__hashed_id; may be "
        "published"
    ),
    "frame_id": (
        "Frame the data comes from (<order>-<frame id>, as in response__sequence), or "
        "'global' for events not tied to a frame"
    ),
    "event_number": (
        "For event data (eventTimings), the index of the event within its frame, from 0; "
        "empty for data about the frame as a whole"
    ),
    "key": (
        "Name of the value, nested names joined by '.' (array items by index), e.g. "
        "formData.favorite_animal; empty when the frame's data is a single value (jsPsych-"
        "style frames)"
    ),
    "value": (
        "The value (of the event, if event_number is set). May hold free text typed by "
        "parents (exit-survey feedback, form answers): review before publication"
    ),
}

#: Where the demographic-snapshot dictionary says something else.
DEMOGRAPHIC_DESCRIPTIONS = {
    "response__uuid": (
        "Unique identifier of the response this snapshot belongs to. " + REDACT_WITH_VIDEO
    ),
}

_PATTERNS = (
    (
        re.compile(r"^response__sequence\.\d+$"),
        "Frame the participant saw at this position of the session (<order>-<frame id>); "
        "sequences differ after randomization or when a participant leaves early",
    ),
    (
        re.compile(r"^response__eligibility\.\d+$"),
        "One eligibility code of the response (see response__eligibility)",
    ),
    (
        re.compile(r"^response__conditions\.\d+\.frameName$"),
        "Randomizer frame that assigned the conditions of this group (<order>-<frame id>)",
    ),
    (
        re.compile(r"^response__conditions\.\d+\.conditionNum$"),
        "Condition number drawn by that randomizer frame",
    ),
    (
        re.compile(r"^response__conditions\."),
        "RESEARCHER: INSERT DESCRIPTION. Condition assignment by the randomizer frame named "
        "in the frameName of the same group",
    ),
)

#: Stock descriptions of known frame keys (the exit survey, video frames) and event keys.
FRAME_KEYS = {
    "videoId": "Name of the video file recorded during this frame (without extension)",
    "videoList.N": "Names of all video files recorded during this frame",
    "withdrawal": "Whether the parent withdrew video (only consent video kept)",
    "useOfMedia": "Privacy level for videos chosen by the parent",
    "databraryShare": "Whether the parent agreed to share video on Databrary",
    "feedback": "Parent's feedback. " + REDACT_FREE_TEXT,
    "": (
        "The frame's whole data, written as one value because it is not an object "
        "(jsPsych-style frames)"
    ),
}
EVENT_KEYS = {
    "eventType": (
        "Kind of event (frame type and event name); the global event exitEarly records an "
        "attempt to leave the study early. RESEARCHER: INSERT DESCRIPTIONS OF THE EVENT TYPES "
        "USED IN YOUR STUDY"
    ),
    "timestamp": "Time of the event, e.g. 2019-11-07T17:14:43.626Z",
    "streamTime": (
        "Time in the webcam video (videoId) when the event happened, to 0.1 s; 0 or empty "
        "before recording starts"
    ),
    "videoId": "Video file being recorded when the event happened (without extension)",
    "pipeId": "Video ID used by the recording service (troubleshooting only)",
    "exitType": "How the participant tried to leave early (global event exitEarly)",
    "lastPageSeen": "Index of the frame shown before the attempt to leave (global exitEarly)",
}


def describe(column: str, overrides: Mapping[str, str] | None = None) -> str:
    """Description of a column of the overview, children or demographic files."""
    if overrides and column in overrides:
        return overrides[column]
    if column in DESCRIPTIONS:
        return DESCRIPTIONS[column]
    for pattern, text in _PATTERNS:
        if pattern.search(column):
            return text
    return "RESEARCHER: INSERT DESCRIPTION"


def dictionary_csv(columns: Sequence[str], overrides: Mapping[str, str] | None = None) -> bytes:
    """A ``column,description`` dictionary with one row per column, in the order given,
    written as the platform writes its dictionaries (:func:`platform_csv`)."""
    return platform_csv(DICT_COLUMNS, [(c, describe(c, overrides)) for c in columns])


def key_pattern(path: str) -> str:
    """A frame-data key with array indices generalized: ``videoList.3`` → ``videoList.N``
    (the stock descriptions are looked up so)."""
    return ".".join("N" if part.isdigit() else part for part in path.split("."))


def frame_name(frame_id: str) -> str:
    """``possible_frame_id`` of a frame, as the platform names it: ``*-`` and the part of
    its ID after the first ``-`` (the same frame at other positions shares it;
    ``4-pref-phys-videos`` → ``*-pref-phys-videos``, an ID without ``-`` → ``*-``)."""
    return "*-" + frame_id.partition("-")[2]


def frames_dictionary(rows: Iterable[tuple], frame_columns: Sequence[str]) -> bytes:
    """The frame-data dictionary in the platform's six-column layout and row order.

    First the frame-data columns ``frame_columns`` (``column, description``); then
    ``global``; then each frame name (:func:`frame_name`, in text order) with a placeholder
    description, each followed by its keys that are not event data, every list index its
    own key (``videoList.0``, ``videoList.1``), in text order; then every event key (global
    events included) as ``any (event data)``, in text order. ``rows`` are frame-data rows
    ``(response_uuid, child_hashed_id, frame_id, event_number, key, value)``. Stock
    descriptions where the key is known, ``RESEARCHER: INSERT …`` placeholders elsewhere.
    """
    frame_keys: dict[str, set[str]] = {}
    event_keys: set[str] = set()
    for _, _, fid, number, key, _ in rows:
        if number != "":
            event_keys.add(key)
        if fid == "global":
            continue
        keys = frame_keys.setdefault(frame_name(fid), set())
        if number == "":
            keys.add(key)
    out: list[tuple[str, ...]] = [(c, describe(c), "", "", "", "") for c in frame_columns]
    out.append(("", "", "global", "Events not tied to a frame (e.g. leaving early)", "", ""))
    for name in sorted(frame_keys):
        out.append(("", "", name, FRAME_PLACEHOLDER, "", ""))
        for key in sorted(frame_keys[name]):
            described = FRAME_KEYS.get(key_pattern(key), KEY_PLACEHOLDER)
            out.append(("", "", name, "", key, described))
    for key in sorted(event_keys):
        out.append(("", "", ANY_EVENT, "", key, EVENT_KEYS.get(key, EVENT_KEY_PLACEHOLDER)))
    return platform_csv(FRAMES_DICT_COLUMNS, out)
