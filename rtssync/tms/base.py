"""The protocol every TMS backend implements.

A backend reads the live state and performs single, versioned writes. It knows nothing about git,
SOPS or plans: the engine calls it with already-decided, already-decrypted values.

Versioning: every :class:`LiveSubsidiary` carries an ``etag`` (opaque; compare only etags from
the same backend). Every write takes the etag it was planned against (``if_match``) and raises
:class:`rtssync.errors.ConflictError` if the subsidiary changed since; on success it returns the
subsidiary as it now is, with a new etag, so the engine can chain several writes to one
subsidiary. Every successful write moves the etag on, ``record_applied`` included (the etag
versions the whole record).

Errors, checked in this order so callers can rely on which one they get: an unknown ``tms_id``
raises :class:`rtssync.errors.NotFoundError`; a stale ``if_match``
:class:`~rtssync.errors.ConflictError`; a write the TMS refuses (an empty or over-long value, FTP
configured without a login, ...) a plain :class:`~rtssync.errors.TmsError`. A refused write
changes nothing. No message ever contains a password.

Creates take an ``idempotency_key``: the same key sent twice creates one subsidiary and returns
it both times, so a create retried after a lost response (or a re-run apply) never duplicates.

``tests/tms/contract.py`` is the executable form of this contract; every backend runs it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rtssync.model import (
    AppliedFrom,
    FtpCredentials,
    FtpSettings,
    Invoicing,
    LiveSubsidiary,
    SubsidiaryFields,
)


@runtime_checkable
class TmsBackend(Protocol):
    """Typed access to one TMS. Implementations: local (SQLite), http, alvys."""

    def list_subsidiaries(self) -> list[LiveSubsidiary]:
        """Every subsidiary with its NOA, invoicing and RTS FTP settings (never a password),
        in creation order, each exactly once."""
        ...

    def get_subsidiary(self, tms_id: str) -> LiveSubsidiary:
        """One subsidiary; raises NotFoundError."""
        ...

    def create_subsidiary(
        self, fields: SubsidiaryFields, *, idempotency_key: str
    ) -> LiveSubsidiary:
        """Create a subsidiary with no NOA, invoicing or FTP yet.

        A repeated ``idempotency_key`` creates nothing and returns the subsidiary that key
        created, as it is now (so its etag is usable). The same key with different ``fields`` is
        a caller bug and raises :class:`TmsError`. The TMS does not deduplicate by content:
        equal fields under two keys are two subsidiaries.
        """
        ...

    def update_subsidiary(
        self, tms_id: str, fields: SubsidiaryFields, *, if_match: str
    ) -> LiveSubsidiary: ...

    def set_notice_of_assignment(
        self, tms_id: str, text: str, *, if_match: str
    ) -> LiveSubsidiary:
        """Store ``text`` verbatim (up to 10,000 characters, any Unicode); blank is refused."""
        ...

    def set_invoicing(
        self, tms_id: str, invoicing: Invoicing, *, if_match: str
    ) -> LiveSubsidiary: ...

    def put_rts_ftp(
        self,
        tms_id: str,
        settings: FtpSettings,
        *,
        credentials: FtpCredentials | None,
        credentials_revision: str | None,
        if_match: str,
    ) -> LiveSubsidiary:
        """Set the RTS FTP settings.

        With ``credentials`` (and their revision) the login is replaced; with ``credentials=None``
        only the settings change and the stored login and revision are kept. Configuring FTP for
        the first time (or after :meth:`remove_rts_ftp`) requires credentials; a
        ``credentials_revision`` without credentials is refused. The password is write-only:
        reads show only ``username``, ``password_set`` and ``credentials_revision``.
        """
        ...

    def remove_rts_ftp(self, tms_id: str, *, if_match: str) -> LiveSubsidiary:
        """Clear the FTP settings, the stored login and its revision (a no-op if none)."""
        ...

    def record_applied(
        self, tms_id: str, applied: AppliedFrom, *, if_match: str
    ) -> LiveSubsidiary:
        """Record the commit and time the subsidiary was last applied from.

        This is bookkeeping, not a change to the subsidiary: it does not count as drift.
        """
        ...

    def close(self) -> None: ...
