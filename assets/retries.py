"""Step retries for transient transport trouble (the SFTP location already retries each call;
this re-runs the whole step, a minute later, when a server stays unreachable for a while)."""

import inspect
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from dagster import RetryRequested

from pipeline.locations.sftp import SftpRetryError, TransferError, is_transient_error

STEP_RETRY_WAIT = 60  # seconds

F = TypeVar("F", bound=Callable[..., Any])


def retry_transient(resource_key: str) -> Callable[[F], F]:
    """Re-run the step (``step_retries`` of the study resource under ``resource_key``,
    default 2) after a transient transport error; authentication, host-key and data errors
    fail at once. CLI runs set ``step_retries`` to 0: they exit non-zero and the operator
    (or the schedule) reruns. The decorated function takes the execution context first."""

    def retry_or_raise(context: Any, exc: BaseException) -> None:
        retries = getattr(getattr(context.resources, resource_key), "step_retries", 0)
        transient = not isinstance(exc, OSError) or is_transient_error(exc)
        if retries and transient:
            raise RetryRequested(max_retries=retries, seconds_to_wait=STEP_RETRY_WAIT) from exc

    def decorate(fn: F) -> F:
        if inspect.isgeneratorfunction(fn):  # steps that yield their output and checks

            @wraps(fn)
            def generator(context: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    yield from fn(context, *args, **kwargs)
                except (SftpRetryError, TransferError, OSError) as exc:
                    retry_or_raise(context, exc)
                    raise

            return generator  # type: ignore[return-value]

        @wraps(fn)
        def wrapper(context: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(context, *args, **kwargs)
            except (SftpRetryError, TransferError, OSError) as exc:
                retry_or_raise(context, exc)
                raise

        return wrapper  # type: ignore[return-value]

    return decorate
