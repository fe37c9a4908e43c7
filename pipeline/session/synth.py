"""Deterministic, realistic raw input of a session study (for tests, demos, benchmarks).

Per day ``responses_{YYYY_mm_dd}.json`` (the platform's response records, created that
day in America/Los_Angeles, with eligibility codes, the exit survey's parent feedback,
the researcher fields, conditions in the platform's mapping form, and sometimes a second
exit survey frame; only values the platform can hold: its choices and labels) and
``videos_{YYYY_mm_dd}.txt`` (the day's videoStream files); consent rulings
``consent_rulings_{YYYY_mm_dd}.csv`` arrive one to three days after the response (some
pending first, then accepted or rejected), so the rulings of the last days fall after the
response window.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_STUDY_UUID = "0f620873-2847-4eeb-9854-df7898934c17"
DEFAULT_STUDY_NAME = "Physics Study"
SYNTH_TIMEZONE = "America/Los_Angeles"
MAX_RULING_LAG = 3

CHILD_NAMES = (
    "Theodora", "Maximilian", "Genevieve", "Bartholomew", "Zoë Anaïs", "Evangeline",
    "Leopold", "Marguerite", "Octavian", "Rosalind", "Sebastián", "Wilhelmina",
    "Cornelius", "Anastasia", "Fitzgerald", "Persephone", "Thaddeus", "Clementine",
)  # fmt: skip
NICKNAMES = (
    "Marisol R.", "Dad of three", "Kwame A.", "Priyanka's account", "The Okonkwo family",
    "Ingrid H.", "Jolene and Mark", "Tomasz W.", "Beatriz (mom)", "Huang household",
)  # fmt: skip
ADDITIONAL_INFO = (
    "Born three weeks early after a long NICU stay",
    "Has an older sister who also takes part in studies",
    "Wears glasses since she was two",
    "Recovering from frequent ear infections this winter",
    "Lives with grandparents on weekdays",
)
ADDITIONAL_COMMENTS = (
    "We moved here recently from Columbus, Ohio",
    "My husband is deployed overseas right now",
    "Happy to do more studies on weekends",
)
REFERRERS = ("Saw a flyer at Riverside daycare", "Heard from my cousin Dolores", "Facebook")
FEEDBACK = ("", "", "Fun study, thanks!", "The videos froze once.", "She loved the balls")
ARBITERS = ("jrivera", "mchen", "aokafor")
ELIGIBILITY = (
    ["Eligible"],
    ["Ineligible_TooYoung"],
    ["Ineligible_TooOld"],
    ["Ineligible_CriteriaExpression", "Ineligible_Participation"],
)
# Only values the platform can hold (its choices; statuses as stored codes, which its
# downloads write as labels): same number of choices as before, so the draws stay the same.
PAYMENT_STATUS = ("", "", "to_pay", "paid", "do_not_pay")
SESSION_STATUS = ("", "", "follow_up", "session_complete")
RACE_CODES = (
    "white", "black", "hisp", "asian", "native", "mideast-naf", "hawaiian-pac-isl", "other",
)  # fmt: skip
#: The platform's gestational-age labels (what its ``age_at_birth`` gives).
AGES_AT_BIRTH = (
    "40 or more weeks", "38 weeks", "36 weeks", "33 weeks", "Not sure or prefer not to answer",
)  # fmt: skip
#: Language lists as the platform writes them: codes of its list, in its list's order.
LANGUAGE_LISTS = ("en", "en", "en es", "en cmn", "en fr")
STIMULI = "https://s3.amazonaws.com/lookitcontents/exp-physics-final/stimuli/{}/webm/{}.webm"

FRAMES = (
    ("0-video-config", "DEFAULT", "exp-video-config"),
    ("1-video-consent", "CONSENT", "exp-video-consent"),
    ("2-instructions", "DEFAULT", "exp-physics-intro"),
    ("3-mood-survey", "DEFAULT", "exp-mood-questionnaire"),
    ("4-pref-phys-videos", "DEFAULT", "exp-video-physics"),
    ("5-exit-survey", "EXIT", "exp-exit-survey"),
)
VIDEO_FRAMES = {"1-video-consent", "4-pref-phys-videos"}


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Child:
    global_id: str
    name: str
    birthday: date
    gender: str
    age_at_birth: str
    language_list: str
    condition_list: str
    additional_information: str


@dataclass
class _Family:
    global_id: str
    nickname: str
    children: list[_Child]
    demographic: dict[str, Any] = field(default_factory=dict)


def _family(rng: random.Random, start: date) -> _Family:
    children = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        children.append(
            _Child(
                global_id=_uuid(rng),
                name=rng.choice(CHILD_NAMES),
                birthday=start - timedelta(days=rng.randint(80, 2200)),
                gender=rng.choice(("f", "m", "f", "m", "o", "na")),
                age_at_birth=rng.choice(AGES_AT_BIRTH),
                language_list=rng.choice(LANGUAGE_LISTS),
                condition_list=rng.choice(("", "", "", "multiple_birth", "hearing_impairment")),
                additional_information=rng.choice(("", "", *ADDITIONAL_INFO)),
            )
        )
    snap_time = datetime.combine(start - timedelta(days=rng.randint(1, 60)), time(12), UTC)
    demographic = {
        "uuid": _uuid(rng),
        "date_created": _iso(snap_time + timedelta(seconds=rng.randint(0, 40000))),
        "number_of_children": str(len(children)),
        "child_birthdays": [c.birthday.isoformat() for c in children],
        "number_of_guardians": rng.choice(("1", "2", "2", "3")),
        "us_race_ethnicity_identification": sorted(rng.sample(RACE_CODES, rng.choice((1, 1, 2)))),
        "parent_age": rng.choice(("25-29", "30-34", "35-39", "40-44")),
        "parent_gender": rng.choice(("f", "m", "o", "na")),
        "education_level": rng.choice(("hs", "col", "bach", "grad", "prof")),
        "annual_income": rng.choice(("30000", "50000", "100000", "150000", "na")),
        "additional_comments": rng.choice(("", *ADDITIONAL_COMMENTS)),
        "country": "US",
        "state": rng.choice(("MA", "CA", "TX", "NY", "WA")),
        "density": rng.choice(("urban", "suburban", "rural")),
        "lookit_referrer": rng.choice(REFERRERS),
    }
    return _Family(_uuid(rng), rng.choice(NICKNAMES), children, demographic)


def _events(
    rng: random.Random, prefix: str, clock: datetime, video: bool
) -> tuple[list[dict], datetime]:
    names = ["recorderReady", "startRecording", "stoppingCapture"] if video else []
    names = [*names[: rng.randint(0, len(names))], "nextFrame"]
    events = []
    stream = 0.0
    for name in names:
        clock += timedelta(milliseconds=rng.randint(800, 30000))
        event: dict[str, Any] = {"eventType": f"{prefix}:{name}", "timestamp": _iso(clock)}
        if video:
            event["streamTime"] = round(stream, 3) if name != "recorderReady" else None
            stream += rng.uniform(0.5, 20)
        events.append(event)
    return events, clock


def _video_names(
    rng: random.Random, study: str, frame: str, response: str, clock: datetime
) -> list[str]:
    names = []
    for _ in range(rng.choice((1, 1, 1, 2))):
        epoch_ms = int(clock.timestamp() * 1000) + rng.randint(0, 4000)
        names.append(f"videoStream_{study}_{frame}_{response}_{epoch_ms}_{rng.randint(0, 999)}")
    return names


def _exit_answers(rng: random.Random, child: _Child) -> dict[str, Any]:
    """The exit survey's answers: birth date (sometimes mistyped), withdrawal, privacy."""
    entered = child.birthday
    if rng.random() < 0.05:
        entered += timedelta(days=rng.choice((-1, 1, 365)))
    return {
        "birthDate": f"{entered.isoformat()}T04:00:00.000Z",
        "withdrawal": rng.random() < 0.12,
        "useOfMedia": rng.choice(("private", "scientific", "public")),
        "databraryShare": rng.choice(("yes", "no")),
        "feedback": rng.choice(FEEDBACK),
    }


def _response(
    rng: random.Random,
    extra: random.Random,
    day: date,
    serial: int,
    family: _Family,
    child: _Child,
    study: dict,
) -> tuple[dict, list[str]]:
    """One response record and its video names. ``extra`` draws the fields added later
    (eligibility, researcher fields, condition form, a second exit survey), so ``rng``'s
    draws, and with them the rest of the synthetic study, stay as they were."""
    zone = ZoneInfo(SYNTH_TIMEZONE)
    local = datetime.combine(day, time(7), zone) + timedelta(
        milliseconds=rng.randint(0, 15 * 3600 * 1000 - 1)
    )
    created = local.astimezone(UTC)
    uid = _uuid(rng)
    consent = rng.random() < 0.92
    if not consent:
        seen = [f for f in FRAMES[:2]]
        completed, early_exit = False, rng.random() < 0.5
    elif rng.random() < 0.8:
        seen, completed, early_exit = list(FRAMES), True, False
    else:  # left early (F1): maybe skipped to the exit survey and submitted it
        cut = rng.randint(2, 4)
        completed = rng.random() < 0.5
        seen = list(FRAMES[:cut]) + ([FRAMES[-1]] if completed else [])
        early_exit = True
    clock = created
    exp_data: dict[str, dict] = {}
    videos: list[str] = []
    for frame_id, frame_type, prefix in seen:
        is_video = frame_id in VIDEO_FRAMES
        events, clock = _events(rng, prefix, clock, is_video)
        frame: dict[str, Any] = {"frameType": frame_type, "eventTimings": events}
        if is_video and (frame_id != "1-video-consent" or consent or rng.random() < 0.5):
            names = _video_names(rng, study["uuid"], frame_id, uid, clock)
            frame["videoId"], frame["videoList"] = names[-1], names
            videos.extend(names)
        if frame_id == "3-mood-survey":
            frame["formData"] = {
                k: str(rng.randint(1, 7)) for k in ("rested", "healthy", "childHappy", "active")
            }
            frame["formData"]["lastEat"] = rng.choice(("30", "60", "120", ""))
        if frame_id == "4-pref-phys-videos":
            frame["videosShown"] = [
                STIMULI.format(kind, f"sbs_{kind}_near_mostly-on_book_c{rng.randint(1, 4)}")
                for kind in rng.sample(("stay", "fall", "ramp"), 2)
            ]
        if frame_type == "EXIT":
            frame.update(_exit_answers(rng, child))
        exp_data[frame_id] = frame
    sequence = [f for f, _, _ in seen]
    feedback = exp_data[sequence[-1]].get("feedback") if completed else None
    if completed and extra.random() < 0.15:  # the exit survey answered a second time
        frame_id, _, prefix = FRAMES[-1]
        events, clock = _events(extra, prefix, clock, False)
        again = {"frameType": "EXIT", "eventTimings": events, **_exit_answers(extra, child)}
        again["birthDate"] = exp_data[frame_id]["birthDate"]
        exp_data["6-exit-survey"] = again
        sequence.append("6-exit-survey")
        feedback = again["feedback"]
    global_events = []
    if early_exit:
        clock += timedelta(seconds=rng.randint(5, 90))
        global_events.append(
            {
                "exitType": rng.choice(("browserNavigationAttempt", "manualInterrupt")),
                "eventType": "exitEarly",
                "timestamp": _iso(clock),
                "lastPageSeen": len(seen) - 1,
            }
        )
    is_preview = rng.random() < 0.05  # drawn before the conditions, as it always was
    group = {
        "conditionNum": rng.randint(0, 11),
        "parameterSet": {"showStay": rng.randint(0, 23), "startType": rng.randint(0, 23)},
    }
    # the platform stores a mapping frame -> values (its downloads write it as a list);
    # the draw that once chose a list form is still made, so later draws stay the same
    extra.random()
    conditions: Any = {"4-pref-phys-videos": group}
    record = {
        "response": {
            "uuid": uid,
            "id": serial,
            "date_created": _iso(created),
            "completed": completed,
            "is_preview": is_preview,
            "completed_consent_frame": consent,
            "sequence": sequence,
            "conditions": conditions,
            "exp_data": exp_data,
            "global_event_timings": global_events,
            "eligibility": list(extra.choices(ELIGIBILITY, weights=(85, 6, 4, 5))[0]),
            "parent_feedback": feedback,
            "researcher_payment_status": extra.choice(PAYMENT_STATUS),
            "researcher_session_status": extra.choice(SESSION_STATUS),
            "researcher_star": extra.random() < 0.1,
        },
        "study": dict(study),
        "participant": {"global_id": family.global_id, "nickname": family.nickname},
        "child": {
            "global_id": child.global_id,
            "name": child.name,
            "birthday": child.birthday.isoformat(),
            "gender": child.gender,
            "age_at_birth": child.age_at_birth,
            "language_list": child.language_list,
            "condition_list": child.condition_list,
            "additional_information": child.additional_information,
        },
        "demographic": dict(family.demographic),
    }
    return record, [f"{name}.mp4" for name in videos]


def _rulings(
    rng: random.Random, record: dict, day: date
) -> list[tuple[date, datetime, str, str, str]]:
    """(arrival day, created_at, action, arbiter, comment) for one response."""
    if not record["response"]["completed_consent_frame"]:
        return []
    zone = ZoneInfo(SYNTH_TIMEZONE)

    def at(lag: int, hour: int) -> tuple[date, datetime]:
        when = day + timedelta(days=lag)
        local = datetime.combine(when, time(hour), zone) + timedelta(
            milliseconds=rng.randint(0, 3_599_999)
        )
        return when, local.astimezone(UTC)

    arbiter = rng.choice(ARBITERS)
    draw = rng.random()
    plan: list[tuple[int, int, str, str]]
    if draw < 0.70:
        comment = rng.choice(("", "", "", "Child says own name on video"))
        plan = [(rng.randint(1, 2), rng.randint(9, 16), "accepted", comment)]
    elif draw < 0.80:
        plan = [(1, 10, "pending", "Audio unclear, asked PI"), (3, 11, "accepted", "Confirmed")]
    elif draw < 0.84:
        plan = [(1, 9, "pending", "Checking"), (1, 15, "accepted", "")]
    elif draw < 0.92:
        plan = [(rng.randint(1, 2), rng.randint(9, 16), "rejected", "Parent not in frame")]
    elif draw < 0.96:
        plan = [(1, 9, "pending", "Recheck audio"), (2, 14, "rejected", "No verbal consent")]
    else:
        plan = [(1, 12, "pending", "Waiting for PI")]
    out = []
    for lag, hour, action, comment in plan:
        when, stamp = at(lag, hour)
        out.append((when, stamp, action, arbiter, comment))
    return out


def generate_session(
    out_dir: str | Path,
    start: date,
    days: int,
    per_day: int,
    seed: int = 0,
    study_uuid: str = DEFAULT_STUDY_UUID,
    study_name: str = DEFAULT_STUDY_NAME,
) -> list[Path]:
    """Write ``days`` days of raw session input starting at ``start`` into ``out_dir``
    (``per_day`` responses a day) and return the written paths, sorted.

    The same arguments always give byte-identical files. Children have ages from about
    80 days to 6 years; families with several children and repeat visits make some
    children appear in several responses; about 5% are previews, 8% miss the consent
    frame, 12% of exit surveys withdraw video; consent rulings arrive 1-3 days later.
    """
    if days < 0 or per_day < 0:
        raise ValueError("days and per_day must not be negative")
    rng = random.Random(f"session-synth:{seed}:{study_uuid}")
    extra = random.Random(f"session-synth-extra:{seed}:{study_uuid}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study = {"uuid": str(uuid.UUID(study_uuid)), "name": study_name}
    families = [_family(rng, start) for _ in range(max(2, math.ceil(days * per_day * 0.45)))]
    serial = 1000 + rng.randint(0, 8000)
    rulings: dict[date, list[tuple]] = {}
    written: list[Path] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        records, videos = [], []
        for _ in range(per_day):
            # Earlier families are likelier: repeat visits and siblings.
            family = families[min(int(rng.paretovariate(1.2)) - 1, len(families) - 1)]
            if rng.random() < 0.5:
                family = rng.choice(families)
            child = rng.choice(family.children)
            serial += rng.randint(1, 3)
            record, names = _response(rng, extra, day, serial, family, child, study)
            records.append(record)
            videos.extend(names)
            for when, stamp, action, arbiter, comment in _rulings(rng, record, day):
                rulings.setdefault(when, []).append(
                    (stamp, record["response"]["uuid"], action, arbiter, comment)
                )
        records.sort(key=lambda r: r["response"]["date_created"])
        stamp = day.strftime("%Y_%m_%d")
        path = out / f"responses_{stamp}.json"
        path.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
        path = out / f"videos_{stamp}.txt"
        path.write_text("".join(f"{name}\n" for name in sorted(videos)), encoding="utf-8")
        written.append(path)
    for when in sorted(rulings):
        rows = sorted(rulings[when])
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["response_uuid", "action", "arbiter", "created_at", "comment"])
        for stamp, response_uuid, action, arbiter, comment in rows:
            writer.writerow([response_uuid, action, arbiter, _iso(stamp), comment])
        path = out / f"consent_rulings_{when.strftime('%Y_%m_%d')}.csv"
        path.write_bytes(buffer.getvalue().encode("utf-8"))
        written.append(path)
    return sorted(written)
