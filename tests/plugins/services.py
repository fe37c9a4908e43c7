"""When a real service (PostgreSQL, sshd) is missing: fail in CI, skip with a reason elsewhere.

`.ci/run` exports PIPELINE_REQUIRE_SERVICES=1, which turns every such skip into a failure.
"""

from __future__ import annotations

import os

import pytest


def services_required() -> bool:
    """True when missing services must fail the run (CI)."""
    return os.environ.get("PIPELINE_REQUIRE_SERVICES", "") not in ("", "0", "false")


def missing_service(reason: str) -> None:
    """Fail loudly in CI, skip with ``reason`` on a machine that lacks the service."""
    if services_required():
        pytest.fail(f"required service missing (PIPELINE_REQUIRE_SERVICES=1): {reason}")
    # Justified skip: the test needs a real service this machine lacks; CI sets
    # PIPELINE_REQUIRE_SERVICES, so there it fails above instead of skipping.
    pytest.skip(reason)
