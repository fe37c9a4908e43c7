"""Code version recorded in every run manifest."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from pipeline import __version__


@cache
def code_version() -> str:
    """Package version plus the git commit when the code runs from a checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
        return f"{__version__}+g{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return __version__
