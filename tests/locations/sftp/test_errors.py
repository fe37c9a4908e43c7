"""Transient errors and the retry policy (pipeline/locations/sftp/errors.py)."""

from __future__ import annotations

import errno

import paramiko
import pytest

from pipeline.locations import UnsafePathError
from pipeline.locations.sftp.errors import (
    HostKeyError,
    SftpAuthError,
    SftpRetryError,
    TransferError,
    is_transient_error,
    retry_call,
)

_RSA = paramiko.RSAKey.generate(1024)


def test_retry_call_backs_off_and_gives_up():
    calls, sleeps, retried = [], [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        return "ok"

    out = retry_call(
        flaky, retries=4, backoff=1.0, sleep=sleeps.append,
        on_retry=lambda n, exc, d: retried.append(n),
    )  # fmt: skip
    assert out == "ok" and len(calls) == 3 and retried == [0, 1]
    assert 1.0 <= sleeps[0] <= 2.0 and 2.0 <= sleeps[1] <= 3.0  # backoff * 2**n + jitter

    def always():
        raise EOFError("gone")

    sleeps.clear()
    with pytest.raises(SftpRetryError, match="failed after 4 attempt") as err:
        retry_call(always, retries=3, backoff=10, max_backoff=15, sleep=sleeps.append)
    assert isinstance(err.value.__cause__, EOFError)
    assert len(sleeps) == 3 and max(sleeps) <= 15 + 10  # capped, then jittered


@pytest.mark.parametrize(
    "exc",
    [
        paramiko.AuthenticationException("no"),
        paramiko.BadHostKeyException("h", _RSA, _RSA),
        HostKeyError("changed"),
        SftpAuthError("no"),
        UnsafePathError("../x"),
        FileNotFoundError(errno.ENOENT, "missing"),
        PermissionError(errno.EACCES, "denied"),
        ValueError("bug"),
    ],
)
def test_permanent_errors_are_not_retried(exc):
    calls = []

    def fail():
        calls.append(1)
        raise exc

    with pytest.raises(type(exc)):
        retry_call(fail, retries=5, sleep=lambda d: pytest.fail("slept"))
    assert calls == [1]
    assert not is_transient_error(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError(errno.ECONNRESET, "reset"),
        BrokenPipeError(errno.EPIPE, "pipe"),
        EOFError(),
        TimeoutError("timed out"),
        paramiko.SSHException("Error reading SSH protocol banner"),
        OSError(errno.ENETUNREACH, "unreachable"),
        OSError("Socket is closed"),  # paramiko, the transport gone under an operation
        TransferError("short"),
    ],
)
def test_transient_errors(exc):
    assert is_transient_error(exc)
