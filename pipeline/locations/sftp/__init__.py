"""A location on an SFTP server (paramiko), with host-key checking, retries and atomic writes.

URL form: ``sftp://user@host:port/path``. The path is the location's root folder:

* ``sftp://u@h/data/drop`` -> the absolute folder ``/data/drop``;
* ``sftp://u@h/~/drop`` -> ``drop`` below the login folder (``sftp://u@h/~`` or
  ``sftp://u@h`` is the login folder itself).

Authentication is by key file and/or a password read from the environment variable
named by :attr:`SftpConfig.password_env` (never from a file or the URL). The server's
host key must be in :attr:`SftpConfig.known_hosts` (``host`` on port 22, ``[host]:port``
otherwise; hashed entries work); an unknown host is refused unless
``allow_unknown_hosts`` is set, and a *changed* key is always refused.

Every operation is retried (tenacity) with exponential backoff and jitter on transient
network errors, reconnecting between attempts, including a connection dropped or reset
during login; a real authentication rejection and host-key failures are never retried.

Only public paramiko calls are used, except ``SFTPClient._request`` for the OpenSSH
extensions paramiko has no method for (see :mod:`.extensions`).

Modules: :mod:`.errors` (errors, retries), :mod:`.connect` (URL, credentials, host keys,
the connection), :mod:`.extensions` (OpenSSH extensions), :mod:`.transfer` (downloads,
uploads, atomic writes), :mod:`.walk` (listing, symlink checks) and :mod:`.location`
(:class:`SftpLocation`).
"""

from pipeline.locations.sftp.connect import parse_sftp_url
from pipeline.locations.sftp.errors import (
    HostKeyError,
    LoginDroppedError,
    SftpAuthError,
    SftpError,
    SftpRetryError,
    TransferError,
    is_transient_error,
    retry_call,
)
from pipeline.locations.sftp.extensions import READ_SIZE
from pipeline.locations.sftp.location import SftpLocation

__all__ = [
    "READ_SIZE",
    "HostKeyError",
    "LoginDroppedError",
    "SftpAuthError",
    "SftpError",
    "SftpLocation",
    "SftpRetryError",
    "TransferError",
    "is_transient_error",
    "parse_sftp_url",
    "retry_call",
]
