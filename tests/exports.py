"""Builders of small Qualtrics-style exports for tests (three header rows + data rows)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

WAVE2 = "SV_cT2ri3tFp2dhJGZ"
BASE_COLUMNS = [
    "StartDate", "EndDate", "Status", "Progress", "Duration..in.seconds.", "Finished",
    "RecordedDate", "ResponseId", "DistributionChannel", "UserLanguage", "S1", "A1_1", "A2",
    "A3", "B2", "B2_14_TEXT", "Q40", "token", "SurveyID", "Q_TerminateFlag", "QState_A3",
]  # fmt: skip
TIME_IMPORT = {"StartDate": "startDate", "EndDate": "endDate", "RecordedDate": "recordedDate"}


def export_bytes(
    rows: Sequence[dict[str, str]],
    columns: Sequence[str] = BASE_COLUMNS,
    timezone: str = "America/Los_Angeles",
) -> bytes:
    """A CSV export: names, question texts (with a newline and a comma), ImportId JSON, rows."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    w.writerow(columns)
    w.writerow([f"Question {c},\nsecond line" for c in columns])
    meta = []
    for c in columns:
        if c in TIME_IMPORT:
            meta.append(json.dumps({"ImportId": TIME_IMPORT[c], "timeZone": timezone}))
        else:
            meta.append(json.dumps({"ImportId": c}))
    w.writerow(meta)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    return buf.getvalue().encode("utf-8")


def response(
    rid: str,
    token: str,
    start: str,
    recorded: str | None = None,
    *,
    end: str | None = None,
    **answers: str,
) -> dict[str, str]:
    """One eligible-by-default response; keyword arguments override or add answers."""
    row = {
        "StartDate": start,
        "EndDate": end or start,
        "Status": "0",
        "Progress": "100",
        "Duration..in.seconds.": "300",
        "Finished": "1",
        "RecordedDate": recorded or start,
        "ResponseId": rid,
        "DistributionChannel": "anonymous",
        "UserLanguage": "EN",
        "S1": "1",
        "A1_1": "2",
        "A2": "1",
        "B2": "4,5",
        "token": token,
        "SurveyID": WAVE2,
    }
    row.update(answers)
    return row


def write_export(folder: Path, name: str, rows: Sequence[dict[str, str]], **kw) -> Path:
    """Write an export file into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(export_bytes(rows, **kw))
    return path
