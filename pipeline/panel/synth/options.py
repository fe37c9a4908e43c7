"""The generator's options: rule-exerciser rates and the spec that fixes the output."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


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
    quoting: str | None = None  # "all" | "minimal" | "nonnumeric"; None: auto (see write._quoting)
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
