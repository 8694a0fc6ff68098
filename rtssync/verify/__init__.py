"""``rtssync verify``: log in to each subsidiary's RTS FTP, FTPS or SFTP server and check its
folder, without ever sending a credential to a host outside policy or printing it anywhere.

The library API:

- :func:`verify_login`: one target, one :class:`VerifyResult` (never raises for a failure);
- :func:`verify_many`: many targets with decrypted credentials, bounded concurrency (the
  engine's ``apply --verify``);
- :func:`verify_subsidiaries`: desired subsidiaries plus a :data:`CredentialSource` that
  decrypts each login only once its host passed policy (the CLI).
"""

from __future__ import annotations

from rtssync.verify.core import verify_login, verify_with_options
from rtssync.verify.options import VerifyOptions
from rtssync.verify.result import VerifyResult
from rtssync.verify.runner import (
    CredentialSource,
    SubsidiaryCheck,
    verify_many,
    verify_subsidiaries,
)

__all__ = [
    "CredentialSource",
    "SubsidiaryCheck",
    "VerifyOptions",
    "VerifyResult",
    "verify_login",
    "verify_many",
    "verify_subsidiaries",
    "verify_with_options",
]
