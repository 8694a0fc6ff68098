"""The CLI's :data:`~rtssync.verify.runner.CredentialSource`: decrypt a subsidiary's FTP login
from its SOPS file, in memory, only the two values verify needs."""

from __future__ import annotations

import threading

from rtssync.decrypt import decrypt_credentials
from rtssync.errors import RtssyncError
from rtssync.model import DesiredSubsidiary, FtpCredentials
from rtssync.sops import Identities, find_identities
from rtssync.verify.result import VerifyFailure
from rtssync.verify.runner import CredentialSource


def sops_credentials(identities: Identities | None = None) -> CredentialSource:
    """A source that decrypts with ``identities`` (default: the ones ``sops`` would find).

    Identities are looked up once, under a lock, because the source is called from the
    verify thread pool.
    """
    lock = threading.Lock()
    found: list[Identities] = [identities] if identities is not None else []

    def decrypt(subsidiary: DesiredSubsidiary) -> FtpCredentials:
        _require_password(subsidiary)
        with lock:
            if not found:
                found.append(find_identities())
        try:  # from the document validation parsed, when there is one (no second read)
            return decrypt_credentials(subsidiary, identities=found[0])
        except OSError as error:
            raise RtssyncError(f"cannot read {subsidiary.source}: {error.strerror}") from None

    return decrypt


def _require_password(subsidiary: DesiredSubsidiary) -> None:
    factoring = subsidiary.factoring
    if factoring is None or factoring.credentials.password_ciphertext is None:
        raise VerifyFailure(
            f"no FTP password in {subsidiary.source.name} yet: set it with "
            f"`rtssync secrets set {subsidiary.key} --username U --password-stdin`"
        )


Usernames = dict[str, str]
"""Subsidiary key -> decrypted RTS FTP username, for the one-login-per-subsidiary rule."""


def remembering_usernames(source: CredentialSource, seen: Usernames) -> CredentialSource:
    """``source``, noting each decrypted username in ``seen``.

    RTS issues one login per subsidiary; without keys ``validate`` cannot compare usernames
    (equal plaintext encrypts differently per file), so verify, which decrypts them anyway,
    checks the rule for real with :func:`rtssync.desired.reused_login_problems`.
    """

    def decrypt(subsidiary: DesiredSubsidiary) -> FtpCredentials:
        credentials = source(subsidiary)
        seen[subsidiary.key] = credentials.username
        return credentials

    return decrypt
