"""How two versions of one subsidiary file differ, in words (for ``rtssync history``).

Credentials are compared by their SOPS ciphertext only: a changed ``ENC[...]`` string means the
value was re-encrypted or replaced, which is what "rotated" means here. No key is needed, and
neither plaintext nor ciphertext is ever part of the result.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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
class Unparseable:
    """A file version that is not YAML (or not a mapping): still part of the history."""


UNPARSEABLE = Unparseable()
Document = Mapping[str, Any] | Unparseable | None
"""A parsed file version; None when the file does not exist in that version."""


@dataclass(frozen=True, slots=True)
class ChangeDescriber:
    """Builds :class:`Change` records for one subsidiary file."""

    key: str
    path: str

    def make(self, kind: ChangeKind, description: str, **details: Any) -> Change:
        return Change(key=self.key, path=self.path, kind=kind, description=description,
                      **details)


def compare_documents(
    described: ChangeDescriber,
    old: Mapping[str, Any] | Unparseable,
    new: Mapping[str, Any] | Unparseable,
) -> list[Change]:
    """The differences between two parsed versions of one subsidiary file."""
    if isinstance(new, Unparseable):
        return [described.make(ChangeKind.UNPARSEABLE, "file is not valid YAML in this commit")]
    if isinstance(old, Unparseable):
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


MISSING: Any = object()


def _lookup(document: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` in nested mappings, or ``MISSING`` if any step is absent."""
    value: Any = document
    for step in path:
        if not isinstance(value, Mapping) or step not in value:
            return MISSING
        value = value[step]
    return value


def _compare_fields(
    described: ChangeDescriber,
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
                old=json_value(before),
                new=json_value(after),
            ))
    return changes


def _compare_noa(
    described: ChangeDescriber, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    before = _lookup(old, ("notice_of_assignment",))
    after = _lookup(new, ("notice_of_assignment",))
    if before == after:
        return []
    added, removed = count_changed_lines(_as_text(before), _as_text(after))
    if before is MISSING or before is None:
        words = f"NOA added (+{added} lines)"
    elif after is MISSING or after is None:
        words = f"NOA removed (-{removed} lines)"
    else:
        words = f"NOA changed (+{added}/-{removed} lines)"
    return [described.make(ChangeKind.NOA, words, field="notice_of_assignment",
                           added_lines=added, removed_lines=removed)]


def _as_text(value: Any) -> str:
    if value is MISSING or value is None:
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
    described: ChangeDescriber, old: Mapping[str, Any], new: Mapping[str, Any]
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
    return value is MISSING or value is None


def _compare_host_key(
    described: ChangeDescriber, old: Mapping[str, Any], new: Mapping[str, Any]
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
    described: ChangeDescriber, old: Mapping[str, Any], new: Mapping[str, Any]
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
    described: ChangeDescriber, old: Mapping[str, Any], new: Mapping[str, Any]
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
    described: ChangeDescriber, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    """Top-level keys history has no words for: named, never shown (they could be anything)."""
    names = sorted(
        str(name) for name in set(old) | set(new)
        if name not in _DESCRIBED_KEYS and old.get(name, MISSING) != new.get(name, MISSING)
    )
    if not names:
        return []
    return [described.make(ChangeKind.OTHER, f"other fields changed: {', '.join(names)}",
                           new=names)]


def show_value(value: Any) -> str:
    """A value as history prints it: short, one line, no terminal control characters."""
    if value is MISSING:
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

def json_value(value: Any) -> Any:
    if value is MISSING:
        return None
    if is_sops_ciphertext(value):
        return "(encrypted)"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
