"""A subsidiary's change history in words, read from git (``rtssync history``).

How two versions of one file differ is :mod:`rtssync.history_compare`; this module walks the
commits, reads each file version once and renders the result.

``git log`` is the audit trail of a config repository; this module turns its commits into what a
reviewer or auditor asks: who changed the NOA, when were the RTS credentials rotated, when did
the FTP host move. Each file version is parsed and compared with the version before it.

Credentials are compared by their SOPS ciphertext only: a changed ``ENC[...]`` string means the
value was re-encrypted or replaced, which is what "rotated" means here. No key is needed, and
neither plaintext nor ciphertext is ever part of the result.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from rtssync.config import Settings, load_settings
from rtssync.errors import RtssyncError
from rtssync.gitlog import ChangeStatus, Commit, FileChange, GitRepository, has_commits
from rtssync.gitlog import open_repository as open_git_repository
from rtssync.history_compare import (
    UNPARSEABLE,
    Change,
    ChangeDescriber,
    ChangeKind,
    Document,
    Unparseable,
    compare_documents,
    printable,
)
from rtssync.validate import SUBSIDIARY_SUFFIXES

try:  # the C loader is much faster on large histories; fall back where libyaml is missing
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _YamlLoader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A commit and what it changed about the subsidiaries asked for."""

    commit: Commit
    changes: tuple[Change, ...]



def config_dir_of(root: Path, settings_file: Path, given: bool = False) -> Path:
    """The subsidiaries folder named by rtssync.yaml (the default when there is none).

    History works without rtssync.yaml (the audit trail of a half-set-up repository is still
    worth reading), but a broken one is reported rather than silently ignored, and so is a
    settings file named with ``--config`` (``given``) that is not there: a typo there would
    otherwise quietly read the wrong folder.
    """
    if not settings_file.is_file():
        if given:
            raise RtssyncError(
                f"{settings_file}: settings file not found (check the --config path, or leave "
                "--config out to use rtssync.yaml)"
            )
        return Settings(root=root, source=settings_file).config_dir
    return load_settings(root, settings_file).config_dir


def read_history(root: Path, config_dir: Path, key: str | None = None) -> list[HistoryEntry]:
    """Every commit (newest first) that changed the subsidiary ``key``, or any when None.

    Renames are followed: asking for ``new-name`` also shows the commits made while the file
    was called ``old-name``. An unknown key is an error, so that a typo does not look like an
    empty history.
    """
    repository = open_git_repository(root)
    directory = _directory_in_repository(repository, config_dir)
    commits = _subsidiary_commits(repository, directory) if has_commits(repository) else []
    if key is not None:
        commits = _commits_of_key(commits, key)
        if not commits:
            raise RtssyncError(
                f"no history for {key!r}: no commit changed {config_dir}/{key}.yaml "
                "(is the key spelled right, and is the file committed?)"
            )
    documents = _read_documents(repository, commits)
    entries = [_describe_commit(commit, documents, repository.prefix) for commit in commits]
    return [entry for entry in entries if entry.changes]


def _directory_in_repository(repository: GitRepository, config_dir: Path) -> str:
    """The subsidiaries folder as git names it (relative to the top level, no trailing /)."""
    if config_dir.is_absolute():
        raise RtssyncError(f"config_dir must be relative to the repository root: {config_dir}")
    joined = posixpath.normpath(repository.prefix + PurePosixPath(config_dir).as_posix())
    if joined.startswith(".."):
        raise RtssyncError(f"config_dir {config_dir} is outside the git repository")
    return "" if joined == "." else joined


def _is_subsidiary_file(path: str | None, directory: str) -> bool:
    """What validate loads as a subsidiary: a .yaml/.yml file directly in the folder, no dotfile
    (editors' and secrets set's temp files start with a dot)."""
    return (
        path is not None
        and posixpath.dirname(path) == directory
        and path.endswith(SUBSIDIARY_SUFFIXES)
        and not posixpath.basename(path).startswith(".")
    )


def key_of(path: str) -> str:
    """A subsidiary's key is its file stem (DESIGN §2)."""
    return PurePosixPath(path).stem


def _subsidiary_commits(repository: GitRepository, directory: str) -> list[Commit]:
    """The log of ``directory``, each commit reduced to its subsidiary-file changes.

    A rename into or out of the folder becomes an add or a removal: only one side of it is a
    subsidiary file.
    """
    commits: list[Commit] = []
    # Literal: a folder name with * or ? must not act as a glob.
    for commit in repository.log(f":(literal){directory or '.'}"):
        changes = tuple(_normalize(change, directory) for change in commit.changes)
        kept = tuple(change for change in changes if change is not None)
        if kept:
            commits.append(_with_changes(commit, kept))
    return commits


def _normalize(change: FileChange, directory: str) -> FileChange | None:
    new_inside = _is_subsidiary_file(change.path, directory)
    if change.status not in (ChangeStatus.RENAMED, ChangeStatus.COPIED):
        return change if new_inside else None
    old_inside = _is_subsidiary_file(change.old_path, directory)
    if new_inside and old_inside:
        return change
    if new_inside:
        return FileChange(ChangeStatus.ADDED, change.path)
    if old_inside and change.status is ChangeStatus.RENAMED and change.old_path is not None:
        return FileChange(ChangeStatus.DELETED, change.old_path)
    return None


def _with_changes(commit: Commit, changes: tuple[FileChange, ...]) -> Commit:
    return Commit(
        sha=commit.sha, parent=commit.parent, author=commit.author, email=commit.email,
        date=commit.date, subject=commit.subject, message=commit.message, changes=changes,
    )


def _commits_of_key(commits: Sequence[Commit], key: str) -> list[Commit]:
    """The commits (newest first) of the one file now or last called ``key``, like --follow.

    Walking back in time, a rename to a followed name switches to the old name, and the commit
    that added the file ends the trail: a different subsidiary that had the same name before
    (removed, or renamed away) is not mixed in.
    """
    names = {key}
    selected: list[Commit] = []
    for commit in commits:
        kept = tuple(change for change in commit.changes if _concerns(change, names))
        for change in kept:
            _step_back(change, names)
        if kept:
            selected.append(_with_changes(commit, kept))
    return selected


def _concerns(change: FileChange, names: set[str]) -> bool:
    if key_of(change.path) in names:
        return True
    # A rename away from a followed name: the file now has another name, still the same file.
    return change.status is ChangeStatus.RENAMED and change.old_path is not None \
        and key_of(change.old_path) in names


def _step_back(change: FileChange, names: set[str]) -> None:
    """What the followed file was called just before ``change``."""
    name = key_of(change.path)
    if change.status is ChangeStatus.RENAMED and change.old_path is not None and name in names:
        names.discard(name)
        names.add(key_of(change.old_path))
    elif change.status in (ChangeStatus.ADDED, ChangeStatus.COPIED):
        names.discard(name)


def _version_specs(commit: Commit, change: FileChange) -> tuple[str | None, str | None]:
    """The ``rev:path`` of the version before and after ``change`` (None where absent)."""
    before = None
    if change.status not in (ChangeStatus.ADDED, ChangeStatus.COPIED) and commit.parent:
        before = f"{commit.parent}:{change.old_path or change.path}"
    after = None if change.status is ChangeStatus.DELETED else f"{commit.sha}:{change.path}"
    return before, after


def _read_documents(
    repository: GitRepository, commits: Iterable[Commit]
) -> dict[str, Document]:
    """Every version the commits need, read in one batch and parsed once each."""
    specs = [
        spec
        for commit in commits
        for change in commit.changes
        for spec in _version_specs(commit, change)
        if spec is not None
    ]
    blobs = repository.read_blobs(specs)
    return {spec: parse_document(content) for spec, content in blobs.items()}


def parse_document(content: bytes | None) -> Document:
    """A file version as a mapping; unparseable content is kept as such, not raised."""
    if content is None:
        return None
    try:
        loaded = yaml.load(content.decode("utf-8"), Loader=_YamlLoader)  # noqa: S506 - safe loader
    except (yaml.YAMLError, UnicodeDecodeError):
        return UNPARSEABLE
    if loaded is None:
        return {}
    return loaded if isinstance(loaded, dict) else UNPARSEABLE


def _describe_commit(
    commit: Commit, documents: Mapping[str, Document], prefix: str
) -> HistoryEntry:
    changes: list[Change] = []
    for file_change in commit.changes:
        before, after = _version_specs(commit, file_change)
        old = documents.get(before) if before else None
        new = documents.get(after) if after else None
        changes.extend(describe_file_change(file_change, old, new, prefix))
    return HistoryEntry(commit=commit, changes=tuple(changes))


def describe_file_change(
    change: FileChange, old: Document, new: Document, prefix: str = ""
) -> list[Change]:
    """What one file change means for its subsidiary, as a list of changes in words."""
    path = change.path[len(prefix):] if change.path.startswith(prefix) else change.path
    key = key_of(change.path)
    described = ChangeDescriber(key=key, path=path)
    if change.status is ChangeStatus.DELETED or new is None:
        return [described.make(ChangeKind.REMOVED, "file removed")]
    result: list[Change] = []
    if change.status is ChangeStatus.RENAMED and change.old_path is not None:
        old_key = key_of(change.old_path)
        result.append(described.make(ChangeKind.RENAMED, f"renamed from {old_key}",
                                     field="key", old=old_key, new=key))
    if old is None or change.status is ChangeStatus.COPIED:
        result.append(described.make(ChangeKind.ADDED, "file added"))
        if isinstance(new, Unparseable):
            result.append(described.make(ChangeKind.UNPARSEABLE, "file is not valid YAML"))
        return result
    result.extend(compare_documents(described, old, new))
    if not result:
        result.append(described.make(ChangeKind.OTHER, "formatting or comments only"))
    return result



def render_text(entries: Sequence[HistoryEntry]) -> str:
    """History for a terminal: one block per commit, newest first, one line per change."""
    if not entries:
        return "no history: no commit has changed a subsidiary file yet\n"
    blocks = []
    for entry in entries:
        commit = entry.commit
        header = (f"{commit.sha[:12]}  {commit.date}  {printable(commit.author)} "
                  f"<{printable(commit.email)}>\n    {printable(commit.subject)}")
        lines = [f"  {change.key}: {change.description}" for change in entry.changes]
        blocks.append("\n".join([header, *lines]))
    return "\n\n".join(blocks) + "\n"


def history_as_json(entries: Sequence[HistoryEntry]) -> list[dict[str, Any]]:
    """History as JSON-ready data: commits newest first, each with its changes."""
    return [
        {
            "commit": entry.commit.sha,
            "author": entry.commit.author,
            "email": entry.commit.email,
            "date": entry.commit.date,
            "subject": entry.commit.subject,
            "message": entry.commit.message,
            "changes": [_change_as_json(change) for change in entry.changes],
        }
        for entry in entries
    ]


def _change_as_json(change: Change) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": change.key,
        "path": change.path,
        "kind": str(change.kind),
        "description": change.description,
    }
    optional = {
        "field": change.field, "old": change.old, "new": change.new,
        "added_lines": change.added_lines, "removed_lines": change.removed_lines,
    }
    data.update({name: value for name, value in optional.items() if value is not None})
    return data
