"""Reading subsidiaries out of the local TMS store as :class:`LiveSubsidiary` records.

The one SELECT here joins the credentials table for the username and whether a password exists;
it never names the password column, so no read path can return a password by accident.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from rtssync.errors import NotFoundError
from rtssync.model import (
    AppliedFrom,
    FtpProtocol,
    FtpSettings,
    Invoicing,
    InvoicingMethod,
    LiveFtp,
    LiveSubsidiary,
    SubsidiaryFields,
)

SELECT_LIVE = """
    SELECT s.id, s.name, s.mc_number, s.dot_number, s.notice_of_assignment,
           s.invoicing_method, s.invoicing_auto_merge,
           s.ftp_protocol, s.ftp_host, s.ftp_port, s.ftp_directory, s.ftp_host_key,
           s.credentials_revision, s.applied_commit, s.applied_at, s.version, s.updated_at,
           c.username AS ftp_username, c.subsidiary_id IS NOT NULL AS password_set
    FROM subsidiaries AS s
    LEFT JOIN ftp_credentials AS c ON c.subsidiary_id = s.id
"""
"""Append ``WHERE``/``ORDER BY`` clauses; columns are read by name in :func:`live_from_row`."""


def etag_for(version: int) -> str:
    """A strong HTTP entity tag for a subsidiary's version counter (``"v7"``)."""
    return f'"v{version}"'


def live_from_row(row: sqlite3.Row) -> LiveSubsidiary:
    return LiveSubsidiary(
        tms_id=row["id"],
        fields=SubsidiaryFields(
            name=row["name"], mc_number=row["mc_number"], dot_number=row["dot_number"]
        ),
        notice_of_assignment=row["notice_of_assignment"],
        invoicing=_invoicing(row),
        rts_ftp=_live_ftp(row),
        etag=etag_for(row["version"]),
        applied_from=_applied(row),
        updated_at=row["updated_at"],
    )


def _invoicing(row: sqlite3.Row) -> Invoicing | None:
    if row["invoicing_method"] is None:
        return None
    return Invoicing(
        method=InvoicingMethod(row["invoicing_method"]),
        auto_merge=bool(row["invoicing_auto_merge"]),
    )


def _live_ftp(row: sqlite3.Row) -> LiveFtp | None:
    if row["ftp_protocol"] is None:
        return None
    settings = FtpSettings(
        protocol=FtpProtocol(row["ftp_protocol"]),
        host=row["ftp_host"],
        port=row["ftp_port"],
        directory=row["ftp_directory"],
        host_key=row["ftp_host_key"],
    )
    return LiveFtp(
        settings=settings,
        username=row["ftp_username"],
        password_set=bool(row["password_set"]),
        credentials_revision=row["credentials_revision"],
    )


def _applied(row: sqlite3.Row) -> AppliedFrom | None:
    if row["applied_commit"] is None:
        return None
    return AppliedFrom(commit=row["applied_commit"], applied_at=row["applied_at"])


def require(db: sqlite3.Connection, tms_id: str) -> int:
    """The subsidiary's current version; NotFoundError if there is no such subsidiary."""
    row = db.execute("SELECT version FROM subsidiaries WHERE id = ?", (tms_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"subsidiary {tms_id} does not exist in the TMS")
    return int(row["version"])


def fetch(db: sqlite3.Connection, tms_id: str) -> LiveSubsidiary:
    row = db.execute(SELECT_LIVE + " WHERE s.id = ?", (tms_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"subsidiary {tms_id} does not exist in the TMS")
    return live_from_row(row)


def search_filter(
    name_contains: str | None,
    mc_number: str | None,
    dot_number: str | None,
    ids: Sequence[str] | None,
) -> tuple[str, tuple[object, ...]]:
    """A ``WHERE`` clause (or "") and its parameters; every given filter must match.

    The clause text is built from constants only; every value is a bound parameter.
    """
    clauses: list[str] = []
    params: list[object] = []
    if name_contains is not None:
        clauses.append("instr(casefold(s.name), ?) > 0")
        params.append(name_contains.casefold())
    if mc_number is not None:
        clauses.append("s.mc_number = ?")
        params.append(mc_number)
    if dot_number is not None:
        clauses.append("s.dot_number = ?")
        params.append(dot_number)
    if ids is not None:
        clauses.append(f"s.id IN ({', '.join('?' for _ in ids)})" if ids else "0")
        params.extend(ids)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)
