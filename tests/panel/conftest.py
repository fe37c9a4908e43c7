"""Fixtures of the panel unit tests: a study over a real SQLite state in ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.panel.night import Panel


@pytest.fixture
def make_panel(tmp_path) -> Iterator[Callable[..., Panel]]:
    """Builds studies under ``tmp_path`` (options as in the configuration file); their
    state databases are closed afterwards."""
    made: list[Panel] = []

    def make(weights: bool = False, name: str = "study", **options: Any) -> Panel:
        panel = Panel(tmp_path / name, options, weights=weights)
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close()


@pytest.fixture
def panel(make_panel) -> Panel:
    """A study with the default settings (no weights source)."""
    return make_panel()
