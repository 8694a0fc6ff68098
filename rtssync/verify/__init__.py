"""``rtssync verify``: log in to each subsidiary's RTS FTP, FTPS or SFTP server and check its
folder, without ever sending a credential to a host outside policy or printing it anywhere.

The library API: :func:`verify_login` for one target, :func:`verify_many` for the engine's
``apply --verify``, :func:`verify_subsidiaries` for the CLI.
"""

from __future__ import annotations

from rtssync.verify.core import verify_login, verify_with_options
from rtssync.verify.options import VerifyOptions
from rtssync.verify.result import VerifyResult

__all__ = ["VerifyOptions", "VerifyResult", "verify_login", "verify_with_options"]
