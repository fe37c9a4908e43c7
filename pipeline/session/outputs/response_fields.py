"""The published values of one response, by section: what the overview CSV flattens and
the responses JSON nests."""

from __future__ import annotations

from typing import Any

from pipeline.session.ages import parse_birthday, parse_timestamp
from pipeline.session.formats import platform_datetime, ruling_time
from pipeline.session.outputs.common import DROP_LEAF, ages_at, canonical
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record, Ruling, natural_key
from pipeline.session.rules import exit_frames, exit_value, is_withdrawn


def conditions_list(conditions: Any) -> list[Any]:
    """``conditions`` as the platform publishes them: a list of groups, each with its
    randomizer frame as ``frameName``. A mapping frame → values (the platform's storage
    form) becomes ``[{"frameName": frame, **values}, …]`` in natural frame order (values
    that are not an object are kept under ``value``); a list is kept as it is."""
    if isinstance(conditions, dict):
        groups = []
        for frame in sorted(conditions, key=natural_key):
            values = conditions[frame]
            groups.append(
                {"frameName": frame, **(values if isinstance(values, dict) else {"value": values})}
            )
        return groups
    return list(conditions or [])


def _birthdate_difference(record: Record) -> int | None:
    """Days from the child's registered birthday to the birth date given in the last exit
    survey (a data-quality check; 0 when they agree)."""
    entered, birthday = exit_value(record, DROP_LEAF), record["child"]["birthday"]
    if entered in (None, "") or birthday in (None, ""):
        return None
    try:
        return (parse_birthday(entered) - parse_birthday(birthday)).days
    except (TypeError, ValueError):
        return None


def _parent_feedback(record: Record) -> Any:
    """The last exit survey's ``feedback``; the record's ``parent_feedback`` only when the
    response has no exit frame (a record exported with the field but without frames)."""
    if exit_frames(record):
        return exit_value(record, "feedback")
    return record["response"]["parent_feedback"]


def response_sections(
    record: Record, settings: StudySettings, ruling: Ruling | None
) -> dict[str, dict]:
    """All publishable-or-identifying values of one response, by section, unfiltered, in
    the platform's order and formats (lists and objects as JSON values)."""
    response, child, participant = record["response"], record["child"], record["participant"]
    days, rounded = ages_at(child["birthday"], response["date_created"])
    return {
        "response": {
            "id": response["id"],
            "uuid": response["uuid"],
            "date_created": platform_datetime(parse_timestamp(response["date_created"])),
            "completed": response["completed"],
            "withdrawn": is_withdrawn(record),
            "eligibility": response["eligibility"],
            "parent_feedback": _parent_feedback(record),
            "birthdate_difference": _birthdate_difference(record),
            "video_privacy": exit_value(record, "useOfMedia"),
            "databrary": exit_value(record, "databraryShare"),
            "is_preview": response["is_preview"],
            "sequence": list(response["sequence"] or []),
            "conditions": canonical(conditions_list(response["conditions"])),
            "researcher_payment_status": response["researcher_payment_status"],
            "researcher_session_status": response["researcher_session_status"],
            "researcher_star": response["researcher_star"],
        },
        "consent": {
            "ruling": ruling.action if ruling else None,
            "arbiter": ruling.arbiter if ruling else None,
            "time": ruling_time(ruling.created_at) if ruling else None,
            "comment": ruling.comment if ruling else None,
        },
        "study": {"uuid": record["study"]["uuid"]},
        "participant": {
            "global_id": participant["global_id"],
            "hashed_id": settings.hashed(participant["global_id"]),
            "nickname": participant["nickname"],
        },
        "child": {
            "global_id": child["global_id"],
            "hashed_id": settings.hashed(child["global_id"]),
            "name": child["name"],
            "birthday": child["birthday"],
            "age_in_days": days,
            "age_rounded": rounded,
            "gender": child["gender"],
            "age_at_birth": child["age_at_birth"],
            "language_list": child["language_list"],
            "condition_list": child["condition_list"],
            "additional_information": child["additional_information"],
        },
    }
