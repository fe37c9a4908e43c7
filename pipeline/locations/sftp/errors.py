"""The SFTP location's errors, which errors are transient, and the retry policy (tenacity)."""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Callable
from typing import TypeVar

import paramiko
import tenacity
from paramiko.ssh_exception import IncompatiblePeer, NoValidConnectionsError

from pipeline.locations.base import LocationUnavailable, UnsafePathError

# One logger for the whole package, as when it was one module: CLI lines name it.
log = logging.getLogger(__package__)

T = TypeVar("T")

MAX_BACKOFF = 30.0  # seconds: the longest wait between two attempts (before jitter)


class SftpError(Exception):
    """Base class of the SFTP location's own errors."""


class HostKeyError(SftpError):
    """The server's host key is unknown (and not allowed) or differs from known_hosts."""


class SftpAuthError(SftpError):
    """No usable credentials, or the server refused them. Never retried."""


class TransferError(SftpError):
    """A transfer ended with the wrong number of bytes. Retried."""


class LoginDroppedError(SftpError):
    """The connection ended (EOF, reset, timeout) while logging in: not a rejection. Retried."""


class SftpRetryError(SftpError):
    """An operation still failed with a transient error after every retry."""


_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH",
        "ENETUNREACH", "ENETDOWN", "ENETRESET", "EHOSTDOWN", "ENOTCONN", "ESHUTDOWN",
    )
    if hasattr(errno, name)
)  # fmt: skip


def is_transient_error(exc: BaseException) -> bool:
    """True for errors worth retrying on a fresh connection (network trouble).

    Authentication and host-key errors, unsafe paths and SFTP status errors such
    as "no such file" or "permission denied" are not transient.
    """
    if isinstance(
        exc,
        (
            HostKeyError, SftpAuthError, UnsafePathError, paramiko.AuthenticationException,
            paramiko.BadHostKeyException, IncompatiblePeer, LocationUnavailable,
        ),
    ):  # fmt: skip
        return False
    if isinstance(
        exc, (TransferError, LoginDroppedError, EOFError, socket.timeout, ConnectionError)
    ):
        return True
    if isinstance(exc, NoValidConnectionsError):  # connection refused on every address
        return True
    if isinstance(exc, socket.gaierror):
        return exc.errno == getattr(socket, "EAI_AGAIN", object())
    if isinstance(exc, paramiko.SSHException):  # banner/kex failures, "connection dropped"
        return True
    if isinstance(exc, OSError):
        # paramiko's "Socket is closed": the transport went away under an operation
        return exc.errno in _NETWORK_ERRNOS or (
            exc.errno is None and "Socket is closed" in str(exc)
        )
    return False


def retry_call(
    fn: Callable[[], T],
    *,
    retries: int,
    backoff: float = 0.5,
    max_backoff: float = MAX_BACKOFF,
    is_transient: Callable[[BaseException], bool] = is_transient_error,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    describe: str = "operation",
) -> T:
    """Call ``fn`` until it succeeds, retrying transient errors at most ``retries`` times.

    The n-th retry (n = 0, 1, ...) waits ``backoff * 2**n`` seconds, capped at
    ``max_backoff``, plus a random jitter of up to ``backoff``. ``on_retry(n, exc, delay)``
    runs before each wait (e.g. to drop a broken connection). A non-transient error is
    raised at once; a transient one left after the last retry is raised as
    :class:`SftpRetryError` (one line, the error as its ``__cause__``).
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = _failure(state)
        delay = state.next_action.sleep if state.next_action else 0.0
        n = state.attempt_number - 1
        log.warning(
            "%s: transient %s: %s; retry %d/%d in %.1f s",
            describe, type(exc).__name__, _one_line(exc), n + 1, retries, delay,
        )  # fmt: skip
        if on_retry is not None:
            on_retry(n, exc, delay)

    def give_up(state: tenacity.RetryCallState) -> T:
        exc = _failure(state)
        raise SftpRetryError(
            f"{describe} failed after {state.attempt_number} attempt(s) in "
            f"{state.seconds_since_start or 0.0:.1f} s: {type(exc).__name__}: {_one_line(exc)}"
        ) from exc

    policy = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_after_attempt(max(0, retries) + 1),
        wait=tenacity.wait_exponential(multiplier=backoff, max=max_backoff)
        + tenacity.wait_random(0, backoff),
        before_sleep=before_sleep,
        retry_error_callback=give_up,
        sleep=sleep,
    )
    return policy(fn)


def _failure(state: tenacity.RetryCallState) -> BaseException:
    exc = state.outcome.exception() if state.outcome is not None else None
    assert exc is not None  # tenacity only retries or gives up on a failed attempt
    return exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
