"""Looking at the TMS's SQLite store directly, independently of rtssync's own read and diff code.

- :func:`install_audit` adds SQLite triggers that log every write to the store (an insert, or an
  update with the row before and after), so a test can prove that no subsidiary was created twice
  and no change was written twice (a write that left the row exactly as it was is a repeat).
  The audit never records a password: for credentials only the subsidiary id is kept.
- :func:`rows_by_mc` and :func:`pending_actions` compute what is still to do by comparing the
  store column by column with a reference store that a complete apply produced.
- :func:`integrity_errors` is ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections import Counter
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIELD_COLUMNS = ("name", "mc_number", "dot_number")
INVOICING_COLUMNS = ("invoicing_method", "invoicing_auto_merge")
FTP_COLUMNS = ("ftp_protocol", "ftp_host", "ftp_port", "ftp_directory", "ftp_host_key")
RECORD_COLUMNS = ("applied_commit", "applied_at")
TRACKED_COLUMNS = (*FIELD_COLUMNS, "notice_of_assignment", *INVOICING_COLUMNS, *FTP_COLUMNS,
                   "credentials_revision", *RECORD_COLUMNS)

Row = dict[str, Any]


def _json_of(prefix: str) -> str:
    pairs = ", ".join(f"'{column}', {prefix}.{column}" for column in (*TRACKED_COLUMNS, "version"))
    return f"json_object({pairs})"


# Column names come from TRACKED_COLUMNS: no input reaches this SQL.
AUDIT_SQL = f"""
CREATE TABLE IF NOT EXISTS reliability_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT, op TEXT, subsidiary_id TEXT,
    old TEXT, new TEXT);
CREATE TRIGGER IF NOT EXISTS reliability_sub_insert AFTER INSERT ON subsidiaries BEGIN
    INSERT INTO reliability_audit (tbl, op, subsidiary_id, old, new)
    VALUES ('subsidiaries', 'insert', NEW.id, NULL, {_json_of('NEW')}); END;
CREATE TRIGGER IF NOT EXISTS reliability_sub_update AFTER UPDATE ON subsidiaries BEGIN
    INSERT INTO reliability_audit (tbl, op, subsidiary_id, old, new)
    VALUES ('subsidiaries', 'update', NEW.id, {_json_of('OLD')}, {_json_of('NEW')}); END;
CREATE TRIGGER IF NOT EXISTS reliability_cred_insert AFTER INSERT ON ftp_credentials BEGIN
    INSERT INTO reliability_audit (tbl, op, subsidiary_id) VALUES
    ('ftp_credentials', 'insert', NEW.subsidiary_id); END;
CREATE TRIGGER IF NOT EXISTS reliability_cred_update AFTER UPDATE ON ftp_credentials BEGIN
    INSERT INTO reliability_audit (tbl, op, subsidiary_id) VALUES
    ('ftp_credentials', 'update', NEW.subsidiary_id); END;
"""  # noqa: S608


def _connect(db_path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    return db


def install_audit(db_path: Path) -> None:
    """Log every write to the store from now on (the store must exist: open a backend first)."""
    with closing(_connect(db_path)) as db:
        db.executescript(AUDIT_SQL)


@dataclass(frozen=True, slots=True)
class AuditReport:
    creates: Counter[str]
    """MC number -> subsidiaries created with it."""
    credential_writes: Counter[str]
    """Subsidiary id -> times its RTS FTP login was written."""
    repeated_writes: list[Row]
    """Writes that left every tracked column as it was: a change written a second time."""
    writes: int
    """Versioned writes (each ends by bumping the subsidiary's version: one per TMS write)."""


def audit_report(db_path: Path) -> AuditReport:
    with closing(_connect(db_path)) as db:
        rows = [dict(r) for r in db.execute("SELECT * FROM reliability_audit ORDER BY seq")]
    creates: Counter[str] = Counter()
    credentials: Counter[str] = Counter()
    after_write: dict[str, list[Row]] = {}
    """Subsidiary id -> its tracked columns after its creation and after each write."""
    for row in rows:
        if row["tbl"] == "ftp_credentials":
            credentials[row["subsidiary_id"]] += 1
            continue
        new = json.loads(row["new"])
        if row["op"] == "insert":
            creates[new["mc_number"]] += 1
            after_write[row["subsidiary_id"]] = [new]
        elif json.loads(row["old"])["version"] != new["version"]:  # the write's last step
            after_write.setdefault(row["subsidiary_id"], []).append(new)
    repeated = []
    for states in after_write.values():
        for before, after in itertools.pairwise(states):
            if _tracked(before) == _tracked(after):
                repeated.append(after)
    writes = sum(len(states) - 1 for states in after_write.values())
    return AuditReport(creates, credentials, repeated, writes)


def _tracked(state: Row) -> Row:
    return {column: state[column] for column in TRACKED_COLUMNS}


def rows_by_mc(db_path: Path) -> dict[str, Row]:
    """Every subsidiary row (tracked columns, plus whether a login is stored), by MC number.

    Raises if two rows share an MC number: a duplicate subsidiary is never acceptable.
    """
    query = (
        "SELECT s.*, c.subsidiary_id IS NOT NULL AS has_login FROM subsidiaries s "
        "LEFT JOIN ftp_credentials c ON c.subsidiary_id = s.id"
    )
    with closing(_connect(db_path)) as db:
        rows = [dict(r) for r in db.execute(query)]
    by_mc: dict[str, Row] = {}
    for row in rows:
        assert row["mc_number"] not in by_mc, f"duplicate subsidiary MC {row['mc_number']}"
        by_mc[row["mc_number"]] = row
    return by_mc


def integrity_errors(db_path: Path) -> list[str]:
    """``PRAGMA integrity_check``: [] when SQLite finds the file sound."""
    with closing(sqlite3.connect(db_path, timeout=30)) as db:
        result = [str(r[0]) for r in db.execute("PRAGMA integrity_check")]
    return [] if result == ["ok"] else result


def _differs(now: Row, want: Row, columns: tuple[str, ...]) -> bool:
    return any(now[c] != want[c] for c in columns)


def pending_actions(now: Mapping[str, Row], reference: Mapping[str, Row],
                    key_of_mc: Mapping[str, str]) -> set[tuple[str, str]]:
    """(file key, action) still to do to make ``now`` look like ``reference`` (DESIGN §3's
    actions, as plan JSON names them), found by comparing columns, not with rtssync's diff."""
    pending: set[tuple[str, str]] = set()
    for mc, want in reference.items():
        key = key_of_mc[mc]
        row = now.get(mc)
        if row is None:
            pending |= {(key, a) for a in ("create_subsidiary", "set_invoicing", "set_noa",
                                           "put_ftp_credentials")}
            continue
        if _differs(row, want, FIELD_COLUMNS):
            pending.add((key, "update_fields"))
        if _differs(row, want, INVOICING_COLUMNS):
            pending.add((key, "set_invoicing"))
        if _differs(row, want, ("notice_of_assignment",)):
            pending.add((key, "set_noa"))
        login_missing = not row["has_login"] or row["credentials_revision"] != \
            want["credentials_revision"]
        if row["ftp_host"] is None or login_missing:
            pending.add((key, "put_ftp_credentials"))
        elif _differs(row, want, FTP_COLUMNS):
            pending.add((key, "put_ftp_settings"))
    return pending


def converged(now: Mapping[str, Row], reference: Mapping[str, Row]) -> bool:
    """Every desired subsidiary exists once and matches the reference in every tracked column
    but the record of when it was applied."""
    compared = tuple(c for c in TRACKED_COLUMNS if c not in RECORD_COLUMNS)
    return now.keys() == reference.keys() and all(
        not _differs(now[mc], reference[mc], compared) and now[mc]["has_login"]
        for mc in reference
    )
