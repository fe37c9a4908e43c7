"""Step retries for transient transport trouble (the SFTP location already retries each call;
this re-runs the whole step, a minute later, when a server stays unreachable for a while)."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from dagster import RetryRequested

from pipeline.locations.sftp import SftpRetryError, TransferError, is_transient_error

STEP_RETRY_WAIT = 60  # seconds

F = TypeVar("F", bound=Callable[..., Any])


def retry_transient(fn: F) -> F:
    """Re-run the step (``step_retries`` of the study resource, default 2) after a transient
    transport error; authentication, host-key and data errors fail at once. CLI runs set
    ``step_retries`` to 0: they exit non-zero and the operator (or the schedule) reruns."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        study = kwargs.get("study") or kwargs.get("study_day")
        retries = getattr(study, "step_retries", 0)
        try:
            return fn(*args, **kwargs)
        except (SftpRetryError, TransferError, OSError) as exc:
            transient = not isinstance(exc, OSError) or is_transient_error(exc)
            if retries and transient:
                raise RetryRequested(max_retries=retries, seconds_to_wait=STEP_RETRY_WAIT) from exc
            raise

    return wrapper  # type: ignore[return-value]
