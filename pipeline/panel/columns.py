"""Which export columns are metadata and which are questions (SPEC §3.3, §3.6): one rule, one place."""

from __future__ import annotations

import re

SYSTEM_COLUMNS = frozenset(
    {
        "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
        "Duration..in.seconds.", "Finished", "RecordedDate", "ResponseId", "RecipientLastName",
        "RecipientFirstName", "RecipientEmail", "ExternalReference", "LocationLatitude",
        "LocationLongitude", "DistributionChannel", "UserLanguage",
    }
)  # fmt: skip
ALWAYS_METADATA = frozenset({"token", "SurveyID"})
METADATA_PATTERN = re.compile(r"^Q_|^QState_|^QCity_|_DO$|^random")

# Published columns besides the questions (SPEC §3.6).
LEADING = ("StartDatetime", "EndDatetime")
TRAILING = ("wave", "UserLanguage", "weight")


def is_metadata(column: str, consent_column: str = "S1") -> bool:
    """True for columns that never count as an answer and are never published as questions."""
    return (
        column in SYSTEM_COLUMNS
        or column in ALWAYS_METADATA
        or column == consent_column
        or column.startswith("_")  # the pipeline's own derived columns
        or METADATA_PATTERN.search(column) is not None
    )


def question_columns(columns: list[str], consent_column: str = "S1") -> list[str]:
    """The question columns of an export, in export order."""
    return [c for c in columns if not is_metadata(c, consent_column)]


def merge_layouts(layouts: list[tuple[float, list[str]]]) -> list[str]:
    """Union of question-column lists, in export order, independent of arrival order.

    ``layouts`` are (sort key, columns) pairs, the key being the wave (unknown waves last).
    Layouts are merged in key order; a column new to the union is placed right after its
    predecessor in the layout that brings it.
    """
    union: list[str] = []
    for _key, cols in sorted(layouts, key=lambda kc: (kc[0], kc[1])):
        for i, col in enumerate(cols):
            if col in union:
                continue
            prev = next((c for c in reversed(cols[:i]) if c in union), None)
            union.insert(union.index(prev) + 1 if prev is not None else 0, col)
    return union
