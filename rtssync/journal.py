"""What apply did (JSON lines in ``.rtssync/journal.jsonl``) and the lock serializing applies.

The journal is the local, line-per-change record of every apply (git log is the record of what
was *asked*; the journal is what *happened*, including failures). It never holds a secret: the
entries are built from change ids, kinds, TMS ids, ETags and error messages that are themselves
secret-free (errors.py). The file and its folder are owner-only because they name hosts and
subsidiaries.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from rtssync.errors import RtssyncError

STATE_DIR = ".rtssync"
JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "apply.lock"


def state_dir(root: Path) -> Path:
    """``<root>/.rtssync``, created owner-only if missing."""
    directory = root / STATE_DIR
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise RtssyncError(
            f"{directory}: cannot create rtssync's state folder ({error.strerror or error}); "
            "it must be a directory (move away whatever is there)"
        ) from None
    return directory


class Journal:
    """Append-only JSON lines; one ``O_APPEND`` write per entry, so lines never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = uuid.uuid4().hex[:16]
        """Written into every entry, so one apply's lines can be told from another's."""

    @classmethod
    def for_repository(cls, root: Path) -> Journal:
        return cls(state_dir(root) / JOURNAL_NAME)

    def write(self, entry: Mapping[str, Any]) -> None:
        line = json.dumps({"run": self.run_id, **entry}, ensure_ascii=False, sort_keys=True)
        line += "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (for ``status`` and tests).

        A last line without its newline is a write cut short by a crash; it is left out rather
        than making the whole journal unreadable.
        """
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        complete, tail = lines[:-1], lines[-1]
        entries = [json.loads(line) for line in complete if line.strip()]
        if tail.strip():
            with suppress(json.JSONDecodeError):
                entries.append(json.loads(tail))
        return entries


@contextmanager
def apply_lock(root: Path) -> Iterator[None]:
    """Hold ``.rtssync/apply.lock`` for the duration: a second apply here fails cleanly.

    Applies from different machines are kept apart by the TMS's ETags instead; this lock only
    stops two local applies from interleaving their writes and journal lines.
    """
    path = state_dir(root) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RtssyncError(
                    f"another rtssync apply is running in {root} (lock {path}); "
                    "wait for it to finish, then re-run"
                ) from None
            raise
        yield
    finally:
        os.close(fd)
