"""Opening the local TMS's SQLite file: owner-only creation, connection pragmas, migrations.

The file is the TMS's own store, so it holds the RTS FTP passwords in plaintext (the TMS must have
them to log in to RTS). That is why it is created with mode 0600 before SQLite ever touches it;
SQLite creates its ``-wal`` and ``-shm`` files with the same permissions as the database file.

The schema is versioned with ``PRAGMA user_version``: :data:`MIGRATIONS` is an append-only list
and the version is the number of steps applied. Each step runs in the same ``BEGIN IMMEDIATE``
transaction that bumps the version, so two processes opening a fresh file at once migrate it
exactly once.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from rtssync.errors import TmsError

DEFAULT_BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's transaction before giving up (SQLite's default
is 0, which turns any overlap into "database is locked")."""


class LocalStoreError(TmsError):
    """The SQLite file itself failed (locked past the busy timeout, not a database, disk full).

    Not the caller's fault, unlike the TmsError of a refused write: a server maps it to 503.
    """


Migration = Callable[[sqlite3.Connection], None]


def _v1_initial(db: sqlite3.Connection) -> None:
    """Subsidiaries, their RTS FTP credentials (a table of their own so that no read query ever
    selects a password column), and create idempotency keys."""
    db.execute(
        """
        CREATE TABLE subsidiaries (
            seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
            id                     TEXT NOT NULL UNIQUE,
            name                   TEXT NOT NULL,
            mc_number              TEXT NOT NULL,
            dot_number             TEXT NOT NULL,
            notice_of_assignment   TEXT,
            invoicing_method       TEXT,
            invoicing_auto_merge   INTEGER,
            ftp_protocol           TEXT,
            ftp_host               TEXT,
            ftp_port               INTEGER,
            ftp_directory          TEXT,
            ftp_host_key           TEXT,
            credentials_revision   TEXT,
            applied_commit         TEXT,
            applied_at             TEXT,
            version                INTEGER NOT NULL,
            created_at             TEXT NOT NULL,
            updated_at             TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE ftp_credentials (
            subsidiary_id  TEXT PRIMARY KEY REFERENCES subsidiaries(id) ON DELETE CASCADE,
            username       TEXT NOT NULL,
            password       TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE idempotency_keys (
            key            TEXT PRIMARY KEY,
            request_hash   TEXT NOT NULL,
            subsidiary_id  TEXT NOT NULL REFERENCES subsidiaries(id) ON DELETE CASCADE,
            created_at     TEXT NOT NULL
        )
        """
    )


def _v2_search_indexes(db: sqlite3.Connection) -> None:
    """The paged search filters by MC and DOT number (as Alvys's carrier search does)."""
    db.execute("CREATE INDEX subsidiaries_mc ON subsidiaries(mc_number)")
    db.execute("CREATE INDEX subsidiaries_dot ON subsidiaries(dot_number)")


MIGRATIONS: Sequence[Migration] = (_v1_initial, _v2_search_indexes)
"""Append-only. Never edit or reorder a released step: files in the wild record how many ran."""

SCHEMA_VERSION = len(MIGRATIONS)


def create_private_file(path: Path) -> None:
    """Create ``path`` (and its parent folders) readable by the owner only, if it is missing.

    ``O_EXCL`` makes the creation race-free: whichever process wins creates it 0600, the other
    sees it exists. An existing file is left as it is.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _creation_problem(path: Path, error: OSError) -> str:
    """Why the store could not be created; "File exists" alone does not say that the thing in
    the way is a plain file where a folder should be."""
    for folder in (path.parent, *path.parent.parents):
        if folder.exists() and not folder.is_dir():
            return f"{folder} is not a directory (move it away or point tms.path elsewhere)"
    return str(error.strerror or error)


def connect(path: Path, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open the store ready for use: created, migrated, WAL, busy timeout, foreign keys on.

    ``check_same_thread`` is off because the caller serialises use of the connection itself.
    """
    try:
        create_private_file(path)
    except OSError as exc:
        raise LocalStoreError(
            f"cannot create the local TMS store {path}: {_creation_problem(path, exc)}"
        ) from exc
    try:
        db = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise LocalStoreError(f"cannot open the local TMS store {path}: {exc}") from exc
    try:
        _configure(db, busy_timeout_s)
        migrate(db)
    except sqlite3.Error as exc:
        db.close()
        raise LocalStoreError(f"cannot open the local TMS store {path}: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db


def _configure(db: sqlite3.Connection, busy_timeout_s: float) -> None:
    """Per-connection settings. WAL lets readers run while one process writes."""
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    db.execute("PRAGMA foreign_keys = ON")
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise TmsError(f"the local TMS store cannot use WAL mode (got {mode!r})")
    db.execute("PRAGMA synchronous = NORMAL")
    # Passwords live in this file: zero what a rotation or removal frees instead of leaving the
    # old password in free pages, and keep SQLite's scratch data in memory, never in /tmp.
    db.execute("PRAGMA secure_delete = ON")
    db.execute("PRAGMA temp_store = MEMORY")
    # Unicode-aware case folding for name search (SQLite's lower() only knows ASCII).
    db.create_function("casefold", 1, _casefold, deterministic=True)


def _casefold(value: str | None) -> str | None:
    return None if value is None else value.casefold()


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION`, refusing files made by a newer rtssync."""
    if schema_version(db) == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(db)  # re-read under the write lock: another process may have won
        if current > SCHEMA_VERSION:
            raise TmsError(
                f"the local TMS store has schema version {current}, newer than this rtssync "
                f"understands ({SCHEMA_VERSION}); upgrade rtssync"
            )
        for step in MIGRATIONS[current:]:
            step(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
