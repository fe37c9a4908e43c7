"""Consumer loader: the newest `recorded` file of every `for` day as one DataFrame (SPEC §3.6)."""

from __future__ import annotations

import gzip
import io
import re

import pandas as pd

from pipeline.config import SftpConfig
from pipeline.locations import open_location
from pipeline.panel.names import DAILY_RE

_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
TIMESTAMP_COLUMNS = ("StartDatetime", "EndDatetime")


def newest_daily_files(names: list[str]) -> dict[str, str]:
    """`for` date (``YYYY_mm_dd``) → the name of its newest `recorded` version."""
    best: dict[str, tuple[str, str]] = {}
    for name in names:
        m = DAILY_RE.match(name.rsplit("/", 1)[-1])
        if not m:
            continue
        day, recorded = m.group(1), m.group(2)
        if day not in best or recorded > best[day][0]:
            best[day] = (recorded, name)
    return {day: name for day, (_rec, name) in sorted(best.items())}


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as datetimes; a column becomes numeric only when every value is a plain number
    (so multi-select answers such as ``4,5`` and ZIP codes with leading zeros stay text)."""
    out = {}
    for col in frame.columns:
        values = frame[col]
        present = values.dropna()
        if col in TIMESTAMP_COLUMNS:
            out[col] = pd.to_datetime(values, format="%Y-%m-%d %H:%M:%S")
        elif col == "A3" or present.empty:
            out[col] = values.astype("string")
        elif present.map(lambda v: bool(_NUMBER.match(v))).all():
            num = pd.to_numeric(values)
            whole = num.dropna()
            out[col] = (
                num.astype("Int64")
                if (whole == whole.round()).all() and "." not in "".join(present)
                else num
            )
        else:
            out[col] = values.astype("string")
    return pd.DataFrame(out)


def latest_text(loc: str, sftp: SftpConfig | None = None) -> pd.DataFrame:
    """The newest version of every day found at ``loc`` (local or SFTP, plain or gzip) as
    published: every value text, missing values NA (the union of the days' columns)."""
    location = open_location(loc, sftp)
    try:
        files = newest_daily_files([f.path for f in location.list_files()])
        if not files:
            raise FileNotFoundError(f"{location.url}: no published daily files (cvid_responses_*)")
        frames = []
        for name in files.values():
            data = location.read_bytes(name)
            if name.endswith(".gz"):
                data = gzip.decompress(data)
            frames.append(
                pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=["NA"])
            )
    finally:
        location.close()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_latest(loc: str, sftp: SftpConfig | None = None) -> pd.DataFrame:
    """:func:`latest_text` with analysis dtypes (see :func:`typed`)."""
    frame = latest_text(loc, sftp)
    return typed(frame) if len(frame.columns) else frame
