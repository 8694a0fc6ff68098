"""The write steps of the local TMS store: small functions a versioned write is made of.

:meth:`LocalBackend._change <rtssync.tms.local.LocalBackend>` runs a list of :data:`Change`
steps inside one ``BEGIN IMMEDIATE`` transaction, after it has checked that the subsidiary
exists and that the caller's ETag is current. Keeping the steps here, apart from the backend's
transaction handling, keeps each of them a few lines of SQL that can be read on its own.

This is the one module that writes a password (:func:`store_credentials`); no read path here or
in :mod:`rtssync.tms.sqlite_rows` selects it back.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from rtssync.errors import TmsError
from rtssync.model import FtpCredentials, FtpSettings, Invoicing, SubsidiaryFields
from rtssync.tms import sqlite_checks as checks

Change = Callable[[sqlite3.Connection, str], None]
"""One step of a write to the subsidiary with the given id, run inside the write transaction
after the not-found and ETag checks (so those errors always win over a step's own)."""


def now() -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-01-02T03:04:05.678Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fingerprint(fields: SubsidiaryFields) -> str:
    """What a create asked for, to tell a replay from a reused key."""
    body = json.dumps([fields.name, fields.mc_number, fields.dot_number], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def insert(db: sqlite3.Connection, fields: SubsidiaryFields) -> str:
    tms_id = "sub_" + secrets.token_hex(8)
    stamp = now()
    db.execute(
        "INSERT INTO subsidiaries (id, name, mc_number, dot_number, version, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
        (tms_id, fields.name, fields.mc_number, fields.dot_number, stamp, stamp),
    )
    return tms_id


def bump_version(db: sqlite3.Connection, tms_id: str, *, touch: bool) -> None:
    if touch:
        db.execute(
            "UPDATE subsidiaries SET version = version + 1, updated_at = ? WHERE id = ?",
            (now(), tms_id),
        )
    else:
        db.execute("UPDATE subsidiaries SET version = version + 1 WHERE id = ?", (tms_id,))


_SETTABLE_COLUMNS = frozenset(
    {
        "name", "mc_number", "dot_number", "notice_of_assignment",
        "invoicing_method", "invoicing_auto_merge",
        "ftp_protocol", "ftp_host", "ftp_port", "ftp_directory", "ftp_host_key",
        "credentials_revision", "applied_commit", "applied_at",
    }
)  # fmt: skip


def set_columns(**columns: object) -> Change:
    """A step that sets the named columns of the subsidiary being changed."""
    unknown = set(columns) - _SETTABLE_COLUMNS
    if unknown:  # column names come from this module only; guard so that stays true
        raise ValueError(f"not settable: {sorted(unknown)}")
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    sql = f"UPDATE subsidiaries SET {assignments} WHERE id = :tms_id"  # noqa: S608

    def step(db: sqlite3.Connection, tms_id: str) -> None:
        db.execute(sql, {**columns, "tms_id": tms_id})

    return step


def set_fields(fields: SubsidiaryFields) -> Change:
    return set_columns(name=fields.name, mc_number=fields.mc_number, dot_number=fields.dot_number)


def set_invoicing(invoicing: Invoicing) -> Change:
    return set_columns(
        invoicing_method=invoicing.method.value, invoicing_auto_merge=int(invoicing.auto_merge)
    )


def set_ftp_settings(settings: FtpSettings) -> Change:
    return set_columns(
        ftp_protocol=settings.protocol.value,
        ftp_host=settings.host,
        ftp_port=settings.port,
        ftp_directory=settings.directory,
        ftp_host_key=settings.host_key,
    )


def store_credentials(credentials: FtpCredentials, revision: str | None) -> Change:
    """Replace the login and its revision (None: written by someone who is not rtssync)."""
    set_revision = set_columns(credentials_revision=revision)

    def step(db: sqlite3.Connection, tms_id: str) -> None:
        db.execute(
            "INSERT INTO ftp_credentials (subsidiary_id, username, password) VALUES (?, ?, ?) "
            "ON CONFLICT (subsidiary_id) DO UPDATE "
            "SET username = excluded.username, password = excluded.password",
            (tms_id, credentials.username, credentials.password.reveal()),
        )
        set_revision(db, tms_id)

    return step


def require_stored_credentials(db: sqlite3.Connection, tms_id: str) -> None:
    """Settings-only FTP writes keep the stored login, so there must be one to keep."""
    row = db.execute("SELECT 1 FROM ftp_credentials WHERE subsidiary_id = ?", (tms_id,)).fetchone()
    if row is None:
        raise TmsError(
            f"subsidiary {tms_id} has no RTS FTP login stored; configuring RTS FTP "
            "for the first time needs credentials"
        )


def require_ftp_configured(db: sqlite3.Connection, tms_id: str) -> None:
    row = db.execute("SELECT ftp_protocol FROM subsidiaries WHERE id = ?", (tms_id,)).fetchone()
    if row is None or row["ftp_protocol"] is None:
        raise TmsError(f"subsidiary {tms_id} has no RTS FTP settings to add a login to")


def clear_ftp(db: sqlite3.Connection, tms_id: str) -> None:
    db.execute("DELETE FROM ftp_credentials WHERE subsidiary_id = ?", (tms_id,))
    set_columns(
        ftp_protocol=None,
        ftp_host=None,
        ftp_port=None,
        ftp_directory=None,
        ftp_host_key=None,
        credentials_revision=None,
    )(db, tms_id)


def ui_ftp_steps(
    settings: FtpSettings | None, credentials: FtpCredentials | None, remove: bool
) -> list[Change]:
    if remove:
        if settings is not None or credentials is not None:
            raise TmsError("a UI edit either removes RTS FTP or changes it, not both")
        return [clear_ftp]
    steps: list[Change] = []
    if settings is not None:
        checks.check_ftp_settings(settings)
        steps.append(set_ftp_settings(settings))
    if credentials is not None:
        checks.check_credentials(credentials)
        steps += [require_ftp_configured, store_credentials(credentials, None)]
    return steps
