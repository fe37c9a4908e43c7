"""The platform's response columns and one response's values in them: what the overview
CSV flattens, the children file takes for a child's first response and the responses JSON
nests.

Facts about the platform (lookit-api ``RESPONSE_COLUMNS``): the columns' order, which are
optional (chosen per download), and the value of each, with its type: ``response__id``
and ``child__age_rounded`` as text, ``child__age_in_days`` as a number, lists
(``eligibility``, ``sequence``, ``conditions``) as lists, researcher statuses as the
labels of the platform's choices, an empty consent comment as null.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipeline.session.ages import parse_birthday, parse_timestamp
from pipeline.session.formats import platform_datetime, ruling_time
from pipeline.session.outputs.common import DROP_LEAF, ages_at
from pipeline.session.outputs.settings import IDENTIFYING, StudySettings
from pipeline.session.records import Record, Ruling
from pipeline.session.rules import exit_frames, exit_value, is_withdrawn

#: The platform's response columns, in its order (``RESPONSE_COLUMNS``).
RESPONSE_COLUMNS = (
    "response__id",
    "response__uuid",
    "response__date_created",
    "response__completed",
    "response__withdrawn",
    "response__eligibility",
    "response__parent_feedback",
    "response__birthdate_difference",
    "response__video_privacy",
    "response__databrary",
    "response__is_preview",
    "consent__ruling",
    "consent__arbiter",
    "consent__time",
    "consent__comment",
    "study__uuid",
    "participant__global_id",
    "participant__hashed_id",
    "participant__nickname",
    "child__global_id",
    "child__hashed_id",
    "child__name",
    "child__birthday",
    "child__age_in_days",
    "child__age_rounded",
    "child__gender",
    "child__age_at_birth",
    "child__language_list",
    "child__condition_list",
    "child__additional_information",
    "response__sequence",
    "response__conditions",
    "response__researcher_payment_status",
    "response__researcher_session_status",
    "response__researcher_star",
)
#: Optional columns (a download option each) that are not identifying: always chosen here,
#: as the platform's download form checks them by default. The identifying ones
#: (:data:`.settings.IDENTIFYING`) are chosen in the study's settings.
SHOWN_OPTIONAL = (
    "child__age_rounded",
    "child__gender",
    "child__age_at_birth",
    "child__language_list",
    "child__condition_list",
)
#: Every optional column.
OPTIONAL = frozenset((*SHOWN_OPTIONAL, *IDENTIFYING))
#: Columns the platform always places among its own (the rest follow in text order):
#: every column but the last two.
PLACED = RESPONSE_COLUMNS[:-2]
#: The children file's source columns (``CHILD_CSV_HEADERS``): child and participant ones.
CHILD_COLUMNS = tuple(c for c in RESPONSE_COLUMNS if c.startswith(("child__", "participant__")))

#: Researcher statuses: the platform's stored codes and the labels its downloads write.
PAYMENT_STATUS_LABELS = {
    "": "",
    "review": "Needs review",
    "to_pay": "To pay",
    "do_not_pay": "Do not pay",
    "paid": "Paid",
}
SESSION_STATUS_LABELS = {
    "": "",
    "to_schedule": "To schedule",
    "scheduled": "Scheduled",
    "session_attended": "Session attended",
    "session_complete": "Session complete",
    "follow_up": "Follow up",
    "communication_complete": "Communication complete",
    "withdrawn_closed": "Withdrawn or closed",
}


def status_label(value: Any, labels: dict[str, str]) -> Any:
    """A researcher status as the platform writes it: the label of its code (null, a field
    the platform stores blank, is ""); a label or an unknown value is kept as it is."""
    if value is None:
        return ""
    return labels.get(value, value) if isinstance(value, str) else value


def chosen_columns(settings: StudySettings) -> set[str]:
    """The optional columns chosen for a download: the shown ones and the selected
    identifying ones."""
    return {*SHOWN_OPTIONAL, *settings.identifying}


def placed_columns(settings: StudySettings) -> list[str]:
    """The platform's own columns of a download, in its order: every column but the last
    two, without the optional ones not chosen."""
    chosen = chosen_columns(settings)
    return [c for c in PLACED if c not in OPTIONAL or c in chosen]


def conditions_list(conditions: Any) -> list[Any]:
    """``conditions`` as the platform publishes them: a list of groups, each with its
    randomizer frame as ``frameName`` first. A mapping frame → values (the platform's
    storage form) becomes ``[{"frameName": frame, **values}, …]`` in the record's order
    (values that are not an object are kept under ``value``); a list is kept as it is."""
    if isinstance(conditions, dict):
        return [
            {"frameName": frame, **(values if isinstance(values, dict) else {"value": values})}
            for frame, values in conditions.items()
        ]
    return list(conditions or [])


def _birthdate_difference(record: Record) -> int | None:
    """Days from the child's registered birthday to the birth date given in the last exit
    survey (a data-quality check; 0 when they agree); the survey's date is its first ten
    characters (``2019-02-16`` of ``2019-02-16T05:00:00.000Z``), as the platform reads it."""
    entered, birthday = exit_value(record, DROP_LEAF), record["child"]["birthday"]
    if not isinstance(entered, str) or not entered or birthday in (None, ""):
        return None
    try:
        return (date.fromisoformat(entered[:10]) - parse_birthday(birthday)).days
    except (TypeError, ValueError):
        return None


def _parent_feedback(record: Record) -> Any:
    """The last exit survey's ``feedback``; the record's ``parent_feedback`` only when the
    response has no exit frame (a record exported with the field but without frames)."""
    if exit_frames(record):
        return exit_value(record, "feedback")
    return record["response"]["parent_feedback"]


def _birthday(value: Any) -> Any:
    """The birthday as the platform's date text (``2019-02-14``); kept when not a date."""
    try:
        return parse_birthday(value).isoformat() if value not in (None, "") else value
    except (TypeError, ValueError):
        return value


def _text_id(value: Any) -> str:
    """``response__id`` as the platform writes it: the number as text."""
    return "" if value is None else str(value)


def response_values(
    record: Record, settings: StudySettings, ruling: Ruling | None
) -> dict[str, Any]:
    """The values of one response in the chosen columns (:func:`chosen_columns`; the
    others are never computed into the result), in the platform's order and types."""
    response, child, participant = record["response"], record["child"], record["participant"]
    days, rounded = ages_at(child["birthday"], response["date_created"])
    values: dict[str, Any] = {
        "response__id": _text_id(response["id"]),
        "response__uuid": response["uuid"],
        "response__date_created": platform_datetime(parse_timestamp(response["date_created"])),
        "response__completed": bool(response["completed"]),
        "response__withdrawn": is_withdrawn(record),
        "response__eligibility": [] if response["eligibility"] is None else response["eligibility"],
        "response__parent_feedback": _parent_feedback(record),
        "response__birthdate_difference": _birthdate_difference(record),
        "response__video_privacy": exit_value(record, "useOfMedia"),
        "response__databrary": exit_value(record, "databraryShare"),
        "response__is_preview": bool(response["is_preview"]),
        "consent__ruling": ruling.action if ruling else "pending",
        "consent__arbiter": (ruling.arbiter or None) if ruling else None,
        "consent__time": ruling_time(ruling.created_at) if ruling else None,
        "consent__comment": (ruling.comment or None) if ruling else None,
        "study__uuid": record["study"]["uuid"],
        "participant__hashed_id": settings.hashed(participant["global_id"]),
        "child__hashed_id": settings.hashed(child["global_id"]),
        "child__age_rounded": "" if rounded is None else str(rounded),
        "child__gender": child["gender"],
        "child__age_at_birth": child["age_at_birth"],
        "child__language_list": child["language_list"],
        "child__condition_list": child["condition_list"],
        "response__sequence": list(response["sequence"] or []),
        "response__conditions": conditions_list(response["conditions"]),
        "response__researcher_payment_status": status_label(
            response["researcher_payment_status"], PAYMENT_STATUS_LABELS
        ),
        "response__researcher_session_status": status_label(
            response["researcher_session_status"], SESSION_STATUS_LABELS
        ),
        "response__researcher_star": bool(response["researcher_star"]),
    }
    identifying = {  # computed only when selected
        "participant__global_id": lambda: participant["global_id"],
        "participant__nickname": lambda: participant["nickname"],
        "child__global_id": lambda: child["global_id"],
        "child__name": lambda: child["name"],
        "child__birthday": lambda: _birthday(child["birthday"]),
        "child__age_in_days": lambda: days,
        "child__additional_information": lambda: child["additional_information"],
    }
    for column in settings.identifying:
        values[column] = identifying[column]()
    return {c: values[c] for c in RESPONSE_COLUMNS if c in values}
