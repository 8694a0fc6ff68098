"""A subsidiary's change history in words, read from git (``rtssync history``).

``git log`` is the audit trail of a config repository; this module turns its commits into what a
reviewer or auditor asks: who changed the NOA, when were the RTS credentials rotated, when did
the FTP host move. Each file version is parsed and compared with the version before it.

Credentials are compared by their SOPS ciphertext only: a changed ``ENC[...]`` string means the
value was re-encrypted or replaced, which is what "rotated" means here. No key is needed, and
neither plaintext nor ciphertext is ever part of the result.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from rtssync.config import Settings, load_settings
from rtssync.errors import RtssyncError
from rtssync.gitlog import ChangeStatus, Commit, FileChange, GitRepository, has_commits
from rtssync.gitlog import open_repository as open_git_repository
from rtssync.validate import SUBSIDIARY_SUFFIXES

CREDENTIAL_FIELDS = ("username", "password")

# Fields compared as "old → new", with the words history uses for them.
_RECORD_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("mc_number", "MC number"),
    ("dot_number", "DOT number"),
    ("tms_id", "TMS id"),
)
_FTP_FIELDS: tuple[tuple[str, str], ...] = (
    ("protocol", "FTP protocol"),
    ("host", "FTP host"),
    ("port", "FTP port"),
    ("directory", "FTP directory"),
)
_INVOICING_FIELDS: tuple[tuple[str, str], ...] = (
    ("method", "invoicing method"),
    ("auto_merge", "invoicing AutoMerge"),
)
# Top-level keys whose changes are described by the comparisons above (or are never shown).
_DESCRIBED_KEYS = frozenset(
    {"name", "mc_number", "dot_number", "tms_id", "notice_of_assignment", "invoicing",
     "factoring", "sops"}
)
_MAX_VALUE_CHARS = 80

try:  # the C loader is much faster on large histories; fall back where libyaml is missing
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _YamlLoader = yaml.SafeLoader


class ChangeKind(StrEnum):
    """What kind of change one line of history reports (the ``kind`` in JSON output)."""

    ADDED = "added"
    REMOVED = "removed"
    RENAMED = "renamed"
    FIELD = "field"
    NOA = "noa"
    INVOICING = "invoicing"
    FACTORING = "factoring"
    FTP = "ftp"
    CREDENTIALS = "credentials"
    RECIPIENTS = "recipients"
    OTHER = "other"
    UNPARSEABLE = "unparseable"


@dataclass(frozen=True, slots=True)
class Change:
    """One thing a commit changed about one subsidiary, in words and as data."""

    key: str
    path: str
    kind: ChangeKind
    description: str
    field: str | None = None
    old: Any = None
    new: Any = None
    added_lines: int | None = None
    removed_lines: int | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A commit and what it changed about the subsidiaries asked for."""

    commit: Commit
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class _Unparseable:
    """A file version that is not YAML (or not a mapping): still part of the history."""


_UNPARSEABLE = _Unparseable()
Document = Mapping[str, Any] | _Unparseable | None
"""A parsed file version; None when the file does not exist in that version."""


def config_dir_of(root: Path, settings_file: Path) -> Path:
    """The subsidiaries folder named by rtssync.yaml (the default when there is none).

    History works without rtssync.yaml (the audit trail of a half-set-up repository is still
    worth reading), but a broken one is reported rather than silently ignored.
    """
    if not settings_file.is_file():
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
        return _UNPARSEABLE
    if loaded is None:
        return {}
    return loaded if isinstance(loaded, dict) else _UNPARSEABLE


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
    described = _Describer(key=key, path=path)
    if change.status is ChangeStatus.DELETED or new is None:
        return [described.make(ChangeKind.REMOVED, "file removed")]
    result: list[Change] = []
    if change.status is ChangeStatus.RENAMED and change.old_path is not None:
        old_key = key_of(change.old_path)
        result.append(described.make(ChangeKind.RENAMED, f"renamed from {old_key}",
                                     field="key", old=old_key, new=key))
    if old is None or change.status is ChangeStatus.COPIED:
        result.append(described.make(ChangeKind.ADDED, "file added"))
        if isinstance(new, _Unparseable):
            result.append(described.make(ChangeKind.UNPARSEABLE, "file is not valid YAML"))
        return result
    result.extend(compare_documents(described, old, new))
    if not result:
        result.append(described.make(ChangeKind.OTHER, "formatting or comments only"))
    return result


@dataclass(frozen=True, slots=True)
class _Describer:
    """Builds :class:`Change` records for one subsidiary file."""

    key: str
    path: str

    def make(self, kind: ChangeKind, description: str, **details: Any) -> Change:
        return Change(key=self.key, path=self.path, kind=kind, description=description,
                      **details)


def compare_documents(
    described: _Describer,
    old: Mapping[str, Any] | _Unparseable,
    new: Mapping[str, Any] | _Unparseable,
) -> list[Change]:
    """The differences between two parsed versions of one subsidiary file."""
    if isinstance(new, _Unparseable):
        return [described.make(ChangeKind.UNPARSEABLE, "file is not valid YAML in this commit")]
    if isinstance(old, _Unparseable):
        return [described.make(ChangeKind.UNPARSEABLE,
                               "file changed (the version before was not valid YAML)")]
    return [
        *_compare_fields(described, old, new, (), _RECORD_FIELDS, ChangeKind.FIELD),
        *_compare_noa(described, old, new),
        *_compare_fields(described, old, new, ("invoicing",), _INVOICING_FIELDS,
                         ChangeKind.INVOICING),
        *_compare_factoring(described, old, new),
        *_compare_recipients(described, old, new),
        *_compare_other_keys(described, old, new),
    ]


_MISSING: Any = object()


def _lookup(document: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` in nested mappings, or ``_MISSING`` if any step is absent."""
    value: Any = document
    for step in path:
        if not isinstance(value, Mapping) or step not in value:
            return _MISSING
        value = value[step]
    return value


def _compare_fields(
    described: _Describer,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    parent: tuple[str, ...],
    fields: Sequence[tuple[str, str]],
    kind: ChangeKind,
) -> list[Change]:
    changes: list[Change] = []
    for name, words in fields:
        before, after = _lookup(old, (*parent, name)), _lookup(new, (*parent, name))
        if before != after:
            changes.append(described.make(
                kind,
                f"{words} {show_value(before)} → {show_value(after)}",
                field=".".join((*parent, name)),
                old=_json_value(before),
                new=_json_value(after),
            ))
    return changes


def _compare_noa(
    described: _Describer, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    before = _lookup(old, ("notice_of_assignment",))
    after = _lookup(new, ("notice_of_assignment",))
    if before == after:
        return []
    added, removed = count_changed_lines(_as_text(before), _as_text(after))
    if before is _MISSING or before is None:
        words = f"NOA added (+{added} lines)"
    elif after is _MISSING or after is None:
        words = f"NOA removed (-{removed} lines)"
    else:
        words = f"NOA changed (+{added}/-{removed} lines)"
    return [described.make(ChangeKind.NOA, words, field="notice_of_assignment",
                           added_lines=added, removed_lines=removed)]


def _as_text(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def count_changed_lines(before: str, after: str) -> tuple[int, int]:
    """Lines added and removed between two texts, as a line diff counts them.

    Line endings are normalised first: switching an NOA from CRLF to LF is not a content
    change, and validate normalises them too (DESIGN §2.1).
    """
    old_lines = before.replace("\r\n", "\n").splitlines()
    new_lines = after.replace("\r\n", "\n").splitlines()
    added = removed = 0
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def _compare_factoring(
    described: _Describer, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    before, after = _lookup(old, ("factoring",)), _lookup(new, ("factoring",))
    if _is_absent(before) and _is_absent(after):
        return []
    if _is_absent(before):
        return [described.make(ChangeKind.FACTORING, "RTS factoring added", field="factoring")]
    if _is_absent(after):
        return [described.make(ChangeKind.FACTORING, "RTS factoring removed",
                               field="factoring")]
    changes = _compare_fields(described, old, new, ("factoring",),
                               (("provider", "factoring provider"),), ChangeKind.FACTORING)
    changes += _compare_fields(described, old, new, ("factoring", "ftp"), _FTP_FIELDS,
                               ChangeKind.FTP)
    changes += _compare_host_key(described, old, new)
    changes += _compare_credentials(described, old, new)
    return changes


def _is_absent(value: Any) -> bool:
    return value is _MISSING or value is None


def _compare_host_key(
    described: _Describer, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    """The pinned SFTP host key: only whether it was set, cleared or changed (it is long)."""
    path = ("factoring", "ftp", "host_key")
    before, after = _lookup(old, path), _lookup(new, path)
    if before == after or (_is_absent(before) and _is_absent(after)):
        return []
    if _is_absent(before):
        words = "FTP host key pinned"
    elif _is_absent(after):
        words = "FTP host key cleared"
    else:
        words = "FTP host key changed"
    return [described.make(ChangeKind.FTP, words, field="factoring.ftp.host_key")]


def _compare_credentials(
    described: _Describer, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    """Credentials "rotated" when their ciphertext differs; values are never part of it.

    A field that appears (a password written after ``import``) is "added", one that goes is
    "removed"; JSON lists the fields under ``new`` and what happened to each under ``old``.
    """
    actions: dict[str, str] = {}
    unencrypted: list[str] = []
    for name in CREDENTIAL_FIELDS:
        before = _lookup(old, ("factoring", "ftp", name))
        after = _lookup(new, ("factoring", "ftp", name))
        if before == after:
            continue
        if _is_absent(before):
            actions[name] = "added"
        elif _is_absent(after):
            actions[name] = "removed"
        else:
            actions[name] = "rotated"
        if not _is_absent(after) and not is_sops_ciphertext(after):
            unencrypted.append(name)
    if not actions:
        return []
    words = _credential_words(actions)
    if unencrypted:
        words += f"; WARNING: {', '.join(unencrypted)} committed unencrypted"
    return [described.make(ChangeKind.CREDENTIALS, words, field="factoring.ftp",
                           old=actions, new=list(actions))]


def _credential_words(actions: Mapping[str, str]) -> str:
    """E.g. "credentials rotated (username, password)" or "credentials rotated (username);
    password added" - grouped by what happened, fields in file order."""
    parts = []
    for action in ("rotated", "added", "removed"):
        fields = [name for name, done in actions.items() if done == action]
        if not fields:
            continue
        if action == "rotated":
            parts.append(f"credentials rotated ({', '.join(fields)})")
        else:
            parts.append(f"{' and '.join(fields)} {action}")
    text = "; ".join(parts)
    return text if text.startswith("credentials") else "credentials: " + text


def is_sops_ciphertext(value: Any) -> bool:
    """Whether a value is a SOPS-encrypted string (``ENC[AES256_GCM,...]``)."""
    return isinstance(value, str) and value.startswith("ENC[") and value.endswith("]")


def _compare_recipients(
    described: _Describer, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    """Who can decrypt the file: public keys only, so safe to count (not to print in full)."""
    before, after = _recipients(old), _recipients(new)
    if before == after or not (before or after):
        return []
    added, removed = len(after - before), len(before - after)
    return [described.make(ChangeKind.RECIPIENTS,
                           f"encryption recipients changed (+{added}/-{removed})",
                           field="sops", old=sorted(before), new=sorted(after))]


def _recipients(document: Mapping[str, Any]) -> frozenset[str]:
    sops = _lookup(document, ("sops",))
    if not isinstance(sops, Mapping):
        return frozenset()
    found: set[str] = set()
    groups = [sops, *(g for g in sops.get("key_groups") or [] if isinstance(g, Mapping))]
    for group in groups:
        for kind, id_field in (("age", "recipient"), ("pgp", "fp"), ("kms", "arn"),
                               ("gcp_kms", "resource_id"), ("azure_kv", "vault_url"),
                               ("hc_vault", "vault_address")):
            for entry in group.get(kind) or []:
                if isinstance(entry, Mapping) and entry.get(id_field):
                    found.add(f"{kind}:{entry[id_field]}")
    return frozenset(found)


def _compare_other_keys(
    described: _Describer, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    """Top-level keys history has no words for: named, never shown (they could be anything)."""
    names = sorted(
        str(name) for name in set(old) | set(new)
        if name not in _DESCRIBED_KEYS and old.get(name, _MISSING) != new.get(name, _MISSING)
    )
    if not names:
        return []
    return [described.make(ChangeKind.OTHER, f"other fields changed: {', '.join(names)}",
                           new=names)]


def show_value(value: Any) -> str:
    """A value as history prints it: short, one line, no terminal control characters."""
    if value is _MISSING:
        return "(none)"
    if value is None:
        return "null"
    if is_sops_ciphertext(value):
        return "(encrypted)"  # a file encrypted with a too-wide encrypted_regex
    if isinstance(value, bool):
        return "true" if value else "false"
    text = printable(str(value))
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    return text


def printable(text: str) -> str:
    """One line without terminal control characters: commit messages and file values come
    from anyone who can push, and must not be able to rewrite the reader's terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _json_value(value: Any) -> Any:
    if value is _MISSING:
        return None
    if is_sops_ciphertext(value):
        return "(encrypted)"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


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
