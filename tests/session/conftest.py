"""Fixtures of the session-study tests: a synthetic drop and its parsed records."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.session.process import SessionResult, process_drop
from pipeline.session.records import parse_responses
from pipeline.session.synth import generate_session
from tests.session.factory import settings

SYNTH_START = date(2024, 3, 1)


@pytest.fixture(scope="session")
def synth_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Raw files of a synthetic session study: 6 days, 15 responses a day."""
    out = tmp_path_factory.mktemp("session-synth")
    paths = generate_session(out, SYNTH_START, days=6, per_day=15, seed=7)
    return {Path(p).name: Path(p).read_bytes() for p in paths}


@pytest.fixture(scope="session")
def synth_records(synth_files: dict[str, bytes]) -> list[dict]:
    """Every raw record of the synthetic drop, parsed."""
    records = []
    for name, data in sorted(synth_files.items()):
        if name.endswith(".json"):
            records.extend(parse_responses(data, name))
    return records


@pytest.fixture(scope="session")
def synth_result(synth_files: dict[str, bytes]) -> SessionResult:
    """The synthetic drop processed with default (non-identifying) settings."""
    return process_drop(synth_files, settings())
