"""Git plumbing for ``rtssync history``: one ``git log`` pass and one ``git cat-file`` batch.

History is read with two processes whatever the size of the repository: ``git log --name-status
-M`` over the subsidiaries folder lists every commit and file change (renames included), and
``git cat-file --batch`` returns every file version that needs comparing. Spawning ``git show``
once per version would be hundreds of processes for a modest repository.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rtssync.errors import RtssyncError

# Separators that cannot occur in hashes, names, e-mail addresses or dates, so the log parses
# without guessing. Commit messages could in theory hold them; they are only ever the last field.
_RECORD = "\x1e"
_FIELD = "\x1f"
_LOG_FORMAT = _FIELD.join(["%x1e%H", "%P", "%an", "%ae", "%aI", "%s", "%B"]) + "%x1f"


class ChangeStatus(StrEnum):
    """The letters of ``git log --name-status`` that history distinguishes."""

    ADDED = "A"
    MODIFIED = "M"
    DELETED = "D"
    RENAMED = "R"
    COPIED = "C"
    TYPE_CHANGED = "T"


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file changed by one commit. Paths are relative to the git top level."""

    status: ChangeStatus
    path: str
    old_path: str | None = None
    """The path before a rename or copy; None otherwise."""


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit as history shows it, with the files it changed under the path asked for."""

    sha: str
    parent: str | None
    """The first parent, which the commit's changes are measured against; None for a root."""
    author: str
    email: str
    date: str
    """Author date, ISO 8601 with the author's offset (``%aI``)."""
    subject: str
    message: str
    changes: tuple[FileChange, ...]


@dataclass(frozen=True, slots=True)
class GitRepository:
    """A work tree: its top level, and where the config repository root sits inside it."""

    toplevel: Path
    prefix: str
    """The config repository root relative to the top level, with a trailing ``/`` (or empty)."""

    def git(self, args: Sequence[str], *, input_bytes: bytes | None = None) -> bytes:
        """Run git at the top level and return its stdout; a failure is an RtssyncError."""
        return _run_git(self.toplevel, args, input_bytes=input_bytes)

    def log(self, pathspec: str) -> list[Commit]:
        """Every non-merge commit that changed something under ``pathspec``, newest first.

        Merge commits are left out: their changes are already shown by the commits they merge
        (and a squash merge is an ordinary commit).
        """
        output = self.git([
            "log", "--no-merges", "-M", "--name-status", "-z", "--no-color",
            f"--format={_LOG_FORMAT}", "--", pathspec,
        ])
        return parse_log(output.decode("utf-8", errors="replace"))

    def read_blobs(self, specs: Iterable[str]) -> dict[str, bytes | None]:
        """The contents of ``<rev>:<path>`` objects in one ``git cat-file --batch`` call.

        Missing objects map to None, so callers can treat "not in this version" uniformly.
        """
        wanted = list(dict.fromkeys(specs))
        if not wanted:
            return {}
        if any("\n" in spec for spec in wanted):
            raise RtssyncError("a file name in the history contains a newline; rename it")
        request = "".join(spec + "\n" for spec in wanted).encode()
        output = self.git(["cat-file", "--batch"], input_bytes=request)
        return dict(zip(wanted, parse_cat_file_batch(output, len(wanted)), strict=True))


def open_repository(root: Path) -> GitRepository:
    """The git work tree containing ``root``; an RtssyncError if there is none."""
    if not root.is_dir():
        raise RtssyncError(f"{root}: no such directory")
    try:
        output = _run_git(root, ["rev-parse", "--show-toplevel", "--show-prefix"])
    except RtssyncError as error:
        raise RtssyncError(
            f"{root} is not in a git repository: history is read from git "
            "(run `git init` and commit the config first)"
        ) from error
    lines = output.decode().splitlines()
    toplevel = Path(lines[0])
    prefix = lines[1] if len(lines) > 1 else ""
    return GitRepository(toplevel=toplevel, prefix=prefix)


def has_commits(repository: GitRepository) -> bool:
    """Whether HEAD points at a commit (a fresh ``git init`` has none)."""
    try:
        repository.git(["rev-parse", "--verify", "--quiet", "HEAD"])
    except RtssyncError:
        return False
    return True


def parse_log(text: str) -> list[Commit]:
    """Parse the output of :meth:`GitRepository.log` (``_LOG_FORMAT`` with ``-z``)."""
    return [_parse_record(record) for record in text.split(_RECORD) if record.strip("\x00\n")]


def _parse_record(record: str) -> Commit:
    sha, parents, author, email, date, subject, rest = record.split(_FIELD, 6)
    message, _, entries = rest.partition(_FIELD + "\x00")
    parent_list = parents.split()
    return Commit(
        sha=sha,
        parent=parent_list[0] if parent_list else None,
        author=author,
        email=email,
        date=date,
        subject=subject,
        message=message.strip(),
        changes=tuple(_parse_name_status(entries.lstrip("\n").split("\x00"))),
    )


def _parse_name_status(tokens: list[str]) -> list[FileChange]:
    """``-z --name-status`` tokens: a status, then one path (two for renames and copies)."""
    changes: list[FileChange] = []
    position = 0
    while position < len(tokens) and tokens[position]:
        letter = tokens[position][0]
        status = ChangeStatus(letter) if letter in ChangeStatus._value2member_map_ else None
        if letter in (ChangeStatus.RENAMED, ChangeStatus.COPIED):
            old_path, path = tokens[position + 1], tokens[position + 2]
            position += 3
            changes.append(FileChange(ChangeStatus(letter), path, old_path))
            continue
        path = tokens[position + 1]
        position += 2
        # Unmerged (U) or unknown (X) entries cannot occur in committed history; treat any
        # other letter as a modification so that a future git does not break history.
        changes.append(FileChange(status or ChangeStatus.MODIFIED, path))
    return changes


def parse_cat_file_batch(output: bytes, count: int) -> list[bytes | None]:
    """Split ``git cat-file --batch`` output into ``count`` contents (None for missing)."""
    contents: list[bytes | None] = []
    position = 0
    for _ in range(count):
        end_of_header = output.index(b"\n", position)
        header = output[position:end_of_header].split()
        position = end_of_header + 1
        if len(header) < 3 or header[-1] in (b"missing", b"ambiguous"):
            contents.append(None)
            continue
        size = int(header[2])
        body = output[position:position + size]
        position += size + 1  # the content is followed by a newline
        contents.append(body if header[1] == b"blob" else None)
    return contents


def _run_git(cwd: Path, args: Sequence[str], *, input_bytes: bytes | None = None) -> bytes:
    executable = shutil.which("git")
    if executable is None:
        raise RtssyncError("git is not installed or not on PATH; history needs it")
    result = subprocess.run(
        [executable, "-c", "core.quotepath=off", *args],
        cwd=cwd,
        input=input_bytes,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise RtssyncError(f"git {args[0]} failed: {detail[-1] if detail else 'no details'}")
    return result.stdout
