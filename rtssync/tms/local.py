"""The local TMS backend: the TMS's state in one SQLite file (DESIGN §5, kind ``local``).

It is what the quickstart and most tests use, and the store the reference server (``rtssync tms
serve``) serves over HTTP. So besides :class:`~rtssync.tms.base.TmsBackend` it offers what a
server and tests need: a paged :meth:`LocalBackend.search`, :meth:`LocalBackend.create_or_replay`
(tells a replayed create from a new one), and edits "as the Alvys UI would make them"
(:meth:`LocalBackend.ui_edit`, :meth:`~LocalBackend.ui_create`, :meth:`~LocalBackend.ui_delete`)
to produce drift and conflicts.

Every write is one ``BEGIN IMMEDIATE`` transaction that checks the subsidiary's version (its
ETag) and bumps it, so several processes can share the file: writers queue on SQLite's lock
(with a busy timeout) and a stale ETag is refused with :class:`ConflictError` instead of
overwriting someone else's change.

Secrets: the file holds the RTS FTP passwords in plaintext, because it *is* the TMS and the TMS
needs them to log in to RTS. It is created 0600. No read returns a password (a
:class:`~rtssync.model.LiveFtp` carries only the username and ``password_set``); tests can ask
:meth:`LocalBackend.password_matches` instead of reading one back.
"""

from __future__ import annotations

import hmac
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from rtssync.errors import ConflictError, TmsError
from rtssync.model import (
    AppliedFrom,
    FtpCredentials,
    FtpSettings,
    Invoicing,
    LiveSubsidiary,
    Secret,
    SubsidiaryFields,
)
from rtssync.tms import sqlite_checks as checks
from rtssync.tms import sqlite_writes as writes
from rtssync.tms.sqlite_rows import (
    SELECT_LIVE,
    etag_for,
    fetch,
    live_from_row,
    require,
    search_filter,
)
from rtssync.tms.sqlite_schema import DEFAULT_BUSY_TIMEOUT_S, LocalStoreError, connect
from rtssync.tms.sqlite_writes import Change

__all__ = ["CreateOutcome", "LocalBackend", "LocalStoreError", "SearchPage"]


@dataclass(frozen=True, slots=True)
class CreateOutcome:
    """What a create did: ``created`` is False when the idempotency key was seen before."""

    subsidiary: LiveSubsidiary
    created: bool


class SearchPage(NamedTuple):
    """One page of :meth:`LocalBackend.search`: ``items, total = backend.search(...)`` works.

    ``total`` counts every match, not just this page (the server's ``total``).
    """

    items: list[LiveSubsidiary]
    total: int


class LocalBackend:
    """The TMS state in the SQLite file at ``path``, created (with its folders) on first use.

    Thread-safe (one connection behind a lock) and process-safe (SQLite WAL, ``BEGIN IMMEDIATE``
    and a busy timeout: a writer waits up to ``busy_timeout_s`` for another, then fails with
    :class:`LocalStoreError`). Use it as a context manager or call :meth:`close`.
    """

    def __init__(self, path: Path | str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self._path = Path(path)
        self._lock = threading.RLock()
        db = connect(self._path, busy_timeout_s)
        db.row_factory = sqlite3.Row
        self._db: sqlite3.Connection | None = db

    @property
    def path(self) -> Path:
        return self._path

    # -- reads ----------------------------------------------------------------------------------

    def list_subsidiaries(self) -> list[LiveSubsidiary]:
        """Every subsidiary, in creation order, from one consistent snapshot."""
        with self._reading() as db:
            rows = db.execute(SELECT_LIVE + " ORDER BY s.seq").fetchall()
        return [live_from_row(row) for row in rows]

    def get_subsidiary(self, tms_id: str) -> LiveSubsidiary:
        with self._reading() as db:
            return fetch(db, tms_id)

    def search(
        self,
        page: int,
        page_size: int,
        *,
        name_contains: str | None = None,
        mc_number: str | None = None,
        dot_number: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> SearchPage:
        """One page (from 0) of the subsidiaries matching every given filter, in creation order.

        The order is stable (creation order never changes), so walking pages 0, 1, ... while no
        one creates or deletes visits each match exactly once. ``name_contains`` ignores case.
        """
        checks.check_page(page, page_size)
        if ids is not None:
            checks.check_ids(ids)
        where, params = search_filter(name_contains, mc_number, dot_number, ids)
        with self._reading() as db:
            count = "SELECT COUNT(*) FROM subsidiaries AS s" + where  # noqa: S608 - see search_filter
            total = db.execute(count, params).fetchone()
            rows = db.execute(
                SELECT_LIVE + where + " ORDER BY s.seq LIMIT ? OFFSET ?",
                (*params, page_size, page * page_size),
            ).fetchall()
        return SearchPage([live_from_row(r) for r in rows], int(total[0]))

    def lookup_idempotency_key(self, idempotency_key: str) -> str | None:
        """The id of the subsidiary a create with this key made, or None if the key is new."""
        with self._reading() as db:
            row = db.execute(
                "SELECT subsidiary_id FROM idempotency_keys WHERE key = ?", (idempotency_key,)
            ).fetchone()
        return None if row is None else str(row["subsidiary_id"])

    def password_matches(self, tms_id: str, candidate: Secret) -> bool:
        """Whether the stored RTS FTP password is ``candidate`` (False if none is stored).

        Lets tests check what was stored without any API that hands a password back.
        """
        with self._reading() as db:
            require(db, tms_id)
            row = db.execute(
                "SELECT password FROM ftp_credentials WHERE subsidiary_id = ?", (tms_id,)
            ).fetchone()
        if row is None:
            return False
        return hmac.compare_digest(str(row["password"]).encode(), candidate.reveal().encode())

    # -- creates --------------------------------------------------------------------------------

    def create_subsidiary(
        self, fields: SubsidiaryFields, *, idempotency_key: str
    ) -> LiveSubsidiary:
        return self.create_or_replay(fields, idempotency_key=idempotency_key).subsidiary

    def create_or_replay(self, fields: SubsidiaryFields, *, idempotency_key: str) -> CreateOutcome:
        """Create a subsidiary, or return the one this key created before (as it is now).

        Reusing a key for different fields is a client bug (two creates sharing a key), so it is
        refused with :class:`TmsError` rather than silently returning the other subsidiary.
        """
        checks.check_fields(fields)
        checks.check_idempotency_key(idempotency_key)
        fingerprint = writes.fingerprint(fields)
        with self._writing() as db:
            known = db.execute(
                "SELECT request_hash, subsidiary_id FROM idempotency_keys WHERE key = ?",
                (idempotency_key,),
            ).fetchone()
            if known is not None:
                if known["request_hash"] != fingerprint:
                    raise TmsError(
                        f"idempotency key {idempotency_key!r} was already used to create "
                        f"subsidiary {known['subsidiary_id']} with different fields; "
                        "use a new key for a different subsidiary"
                    )
                return CreateOutcome(fetch(db, known["subsidiary_id"]), created=False)
            tms_id = writes.insert(db, fields)
            db.execute(
                "INSERT INTO idempotency_keys (key, request_hash, subsidiary_id, created_at) "
                "VALUES (?, ?, ?, ?)",
                (idempotency_key, fingerprint, tms_id, writes.now()),
            )
            return CreateOutcome(fetch(db, tms_id), created=True)

    # -- versioned writes (the protocol) --------------------------------------------------------

    def update_subsidiary(
        self, tms_id: str, fields: SubsidiaryFields, *, if_match: str
    ) -> LiveSubsidiary:
        checks.check_fields(fields)
        return self._change(tms_id, if_match, [writes.set_fields(fields)])

    def set_notice_of_assignment(self, tms_id: str, text: str, *, if_match: str) -> LiveSubsidiary:
        checks.check_notice(text)
        return self._change(tms_id, if_match, [writes.set_columns(notice_of_assignment=text)])

    def set_invoicing(self, tms_id: str, invoicing: Invoicing, *, if_match: str) -> LiveSubsidiary:
        return self._change(tms_id, if_match, [writes.set_invoicing(invoicing)])

    def put_rts_ftp(
        self,
        tms_id: str,
        settings: FtpSettings,
        *,
        credentials: FtpCredentials | None,
        credentials_revision: str | None,
        if_match: str,
    ) -> LiveSubsidiary:
        checks.check_ftp_settings(settings)
        if credentials is not None:
            checks.check_credentials(credentials, credentials_revision)
            login = writes.store_credentials(credentials, credentials_revision)
        elif credentials_revision is not None:
            raise TmsError("a credentials revision can only be stored with new credentials")
        else:
            login = writes.require_stored_credentials
        return self._change(tms_id, if_match, [login, writes.set_ftp_settings(settings)])

    def remove_rts_ftp(self, tms_id: str, *, if_match: str) -> LiveSubsidiary:
        """Clear the FTP settings and the stored login. Removing what is not there succeeds."""
        return self._change(tms_id, if_match, [writes.clear_ftp])

    def record_applied(self, tms_id: str, applied: AppliedFrom, *, if_match: str) -> LiveSubsidiary:
        """Bookkeeping: bumps the ETag (it versions the whole record) but not ``updated_at``."""
        checks.check_applied(applied)
        change = writes.set_columns(applied_commit=applied.commit, applied_at=applied.applied_at)
        return self._change(tms_id, if_match, [change], touch=False)

    # -- edits as the Alvys UI would make them (drift and conflicts for tests and the server) ---

    def ui_create(self, fields: SubsidiaryFields) -> LiveSubsidiary:
        """A subsidiary someone added in the UI: no idempotency key, unmanaged until imported."""
        checks.check_fields(fields)
        with self._writing() as db:
            return fetch(db, writes.insert(db, fields))

    def ui_edit(
        self,
        tms_id: str,
        *,
        fields: SubsidiaryFields | None = None,
        notice_of_assignment: str | None = None,
        invoicing: Invoicing | None = None,
        ftp_settings: FtpSettings | None = None,
        credentials: FtpCredentials | None = None,
        remove_ftp: bool = False,
    ) -> LiveSubsidiary:
        """Change a subsidiary without an ETag, as a person in the TMS's web UI would.

        ``None`` leaves a part unchanged. Credentials typed into the UI clear the
        credentials revision: rtssync did not write them, so its next plan must show drift.
        Unlike :meth:`put_rts_ftp`, the UI may save FTP settings without a login.
        """
        steps: list[Change] = []
        if fields is not None:
            checks.check_fields(fields)
            steps.append(writes.set_fields(fields))
        if notice_of_assignment is not None:
            checks.check_notice(notice_of_assignment)
            steps.append(writes.set_columns(notice_of_assignment=notice_of_assignment))
        if invoicing is not None:
            steps.append(writes.set_invoicing(invoicing))
        steps.extend(writes.ui_ftp_steps(ftp_settings, credentials, remove_ftp))
        return self._change(tms_id, None, steps)

    def ui_delete(self, tms_id: str) -> None:
        """Delete a subsidiary (with its login and idempotency keys), as the UI could."""
        with self._writing() as db:
            require(db, tms_id)
            db.execute("DELETE FROM subsidiaries WHERE id = ?", (tms_id,))

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------------

    def _change(
        self, tms_id: str, if_match: str | None, steps: Sequence[Change], *, touch: bool = True
    ) -> LiveSubsidiary:
        """One versioned write: not found, then ETag, then the steps, then a new version."""
        with self._writing() as db:
            version = require(db, tms_id)
            if if_match is not None and if_match != etag_for(version):
                raise ConflictError(
                    f"subsidiary {tms_id} changed in the TMS since it was read "
                    f"(expected ETag {if_match}, it is now {etag_for(version)}); plan again"
                )
            for step in steps:
                step(db, tms_id)
            writes.bump_version(db, tms_id, touch=touch)
            return fetch(db, tms_id)

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction, so a read made of several queries sees one snapshot."""
        with self._transaction("BEGIN") as db:
            yield db

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (no upgrade deadlocks)."""
        with self._transaction("BEGIN IMMEDIATE") as db:
            yield db

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._open_connection()
            try:
                db.execute(begin)
                try:
                    yield db
                except BaseException:
                    if db.in_transaction:  # SQLite may have rolled back already (disk full)
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise LocalStoreError(f"the local TMS store {self._path} failed: {exc}") from exc

    def _open_connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise TmsError(f"the local TMS store {self._path} is closed")
        return self._db
