"""Typed records shared by the desired state (from git) and the live state (from the TMS).

Everything here is immutable and free of I/O, so that load, validate, diff, plan and apply can
pass these records forward without any module reaching back up the chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a value came from: the file, and the 1-based line and column in it."""

    path: Path
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class Secret:
    """A plaintext credential. Its value is only reachable through :meth:`reveal`.

    ``repr``/``str``/formatting never show the value, so a Secret that ends up in a log line, an
    exception message or a plan by mistake shows as ``***`` instead of leaking.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, format_spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


class FtpProtocol(StrEnum):
    FTP = "ftp"
    FTPS = "ftps"
    SFTP = "sftp"


class InvoicingMethod(StrEnum):
    """How a subsidiary's invoices are delivered. ``factoring`` is Alvys's "Factoring Company"."""

    FACTORING = "factoring"
    EMAIL = "email"
    MAIL = "mail"


class FactoringProvider(StrEnum):
    RTS = "rts"


@dataclass(frozen=True, slots=True)
class SubsidiaryFields:
    """The subsidiary record itself, as both sides know it."""

    name: str
    mc_number: str
    dot_number: str


@dataclass(frozen=True, slots=True)
class Invoicing:
    method: InvoicingMethod
    auto_merge: bool


@dataclass(frozen=True, slots=True)
class FtpSettings:
    """Where the TMS drops invoice batches. Everything here is public; credentials are not."""

    protocol: FtpProtocol
    host: str
    port: int
    directory: str
    host_key: str | None = None


@dataclass(frozen=True, slots=True)
class FtpCredentials:
    """Decrypted RTS FTP login. Only apply and verify ever hold one.

    The username is encrypted in git as well, so it stays out of the repr too."""

    username: str = field(repr=False)
    password: Secret = field(repr=False)


def credentials_revision(username_ciphertext: str, password_ciphertext: str | None) -> str:
    """The opaque revision the TMS stores beside credentials (DESIGN §5).

    Derived from the SOPS ciphertext, so a plan sees "credentials changed in git" without a key.
    The ciphertext is random per encryption, so the digest reveals nothing about the plaintext.
    """
    digest = hashlib.sha256()
    digest.update(b"rtssync-credentials-v1\0")
    digest.update(username_ciphertext.encode())
    digest.update(b"\0")
    digest.update((password_ciphertext or "").encode())
    return "cr1-" + digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class EncryptedCredentials:
    """The credential fields of a subsidiary file exactly as stored: SOPS ``ENC[...]`` strings.

    ``password_ciphertext`` is None when the file has no password yet (e.g. after import).
    """

    username_ciphertext: str
    password_ciphertext: str | None

    @property
    def revision(self) -> str:
        return credentials_revision(self.username_ciphertext, self.password_ciphertext)


@dataclass(frozen=True, slots=True)
class DesiredFactoring:
    provider: FactoringProvider
    ftp: FtpSettings
    credentials: EncryptedCredentials


@dataclass(frozen=True, slots=True)
class DesiredSubsidiary:
    """One subsidiary file after validation. ``key`` is the file stem (e.g. ``alpha-freight``)."""

    key: str
    source: Path
    tms_id: str | None
    fields: SubsidiaryFields
    notice_of_assignment: str
    invoicing: Invoicing
    factoring: DesiredFactoring | None
    locations: Mapping[str, SourceLocation] = field(default_factory=dict, compare=False)
    """Dotted field path (``factoring.ftp.host``) -> where it is written, for error messages."""
    parsed: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    """The file's data as validation parsed it (``sops`` block included, ``ENC[...]`` values as
    written), so credentials decrypt from the very bytes whose digest a plan records, without
    reading and parsing the file again. None when built by hand: decryption reads the file."""


@dataclass(frozen=True, slots=True)
class LiveFtp:
    """RTS FTP settings as the TMS returns them: never a password, only whether one is set."""

    settings: FtpSettings
    username: str | None = field(repr=False)
    password_set: bool
    credentials_revision: str | None


@dataclass(frozen=True, slots=True)
class AppliedFrom:
    """Which commit a subsidiary was last applied from, and when (RFC 3339, UTC)."""

    commit: str
    applied_at: str


@dataclass(frozen=True, slots=True)
class LiveSubsidiary:
    tms_id: str
    fields: SubsidiaryFields
    notice_of_assignment: str | None
    invoicing: Invoicing | None
    rts_ftp: LiveFtp | None
    etag: str
    """Opaque version of the whole subsidiary record; every write must present it (If-Match)."""
    applied_from: AppliedFrom | None = None
    updated_at: str | None = None
