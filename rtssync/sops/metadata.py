"""The ``sops:`` block of an encrypted file: who can decrypt it and how it is protected.

Reading it needs no key, so ``validate`` and ``plan`` can check recipients and settings on a
machine (or a fork's CI) that has none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rtssync.sops.rules import OTHER_KEY_TYPES

SOPS_VERSION = "3.11.0"
"""The sops format version rtssync writes (what sops 3.11 writes)."""

_OTHER_METADATA_KEYS = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")


class MetadataError(Exception):
    """The ``sops`` block is missing or malformed."""


@dataclass(frozen=True, slots=True)
class AgeStanza:
    """One age recipient and the data key (or its Shamir share) wrapped for it."""

    recipient: str
    enc: str


@dataclass(frozen=True, slots=True)
class KeyGroup:
    age: tuple[AgeStanza, ...] = ()
    other: tuple[str, ...] = ()
    """Key types rtssync does not unwrap itself (``pgp``, ``kms``, ...)."""


@dataclass(frozen=True, slots=True)
class SopsMetadata:
    """The parsed ``sops`` block."""

    key_groups: tuple[KeyGroup, ...]
    lastmodified: str
    mac: str
    version: str
    shamir_threshold: int = 0
    mac_only_encrypted: bool = False
    encrypted_regex: str | None = None
    unencrypted_regex: str | None = None
    encrypted_suffix: str | None = None
    unencrypted_suffix: str | None = None
    encrypted_comment_regex: str | None = None
    unencrypted_comment_regex: str | None = None
    uses_key_groups: bool = False
    """Whether the file spells out ``key_groups`` (rather than top-level ``age``)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every age recipient, across key groups."""
        return tuple(stanza.recipient for group in self.key_groups for stanza in group.age)

    @property
    def other_key_types(self) -> tuple[str, ...]:
        return tuple(sorted({name for group in self.key_groups for name in group.other}))


def parse_metadata(raw: object) -> SopsMetadata:
    """Parse the ``sops`` mapping of a loaded document."""
    if not isinstance(raw, Mapping):
        raise MetadataError("no `sops` metadata block: the file is not encrypted with sops")
    uses_groups = "key_groups" in raw and raw["key_groups"] is not None
    groups = (
        tuple(_key_group(group) for group in _as_list(raw["key_groups"], "key_groups"))
        if uses_groups
        else (_key_group(raw),)
    )
    if not any(group.age or group.other for group in groups):
        raise MetadataError("the `sops` block lists no keys")
    return SopsMetadata(
        key_groups=groups,
        lastmodified=_lastmodified(raw.get("lastmodified")),
        mac=_str(raw, "mac") or "",
        version=_str(raw, "version") or "",
        shamir_threshold=_int(raw.get("shamir_threshold")),
        mac_only_encrypted=raw.get("mac_only_encrypted") is True,
        encrypted_regex=_str(raw, "encrypted_regex"),
        unencrypted_regex=_str(raw, "unencrypted_regex"),
        encrypted_suffix=_str(raw, "encrypted_suffix"),
        unencrypted_suffix=_str(raw, "unencrypted_suffix"),
        encrypted_comment_regex=_str(raw, "encrypted_comment_regex"),
        unencrypted_comment_regex=_str(raw, "unencrypted_comment_regex"),
        uses_key_groups=uses_groups,
    )


def _key_group(raw: object) -> KeyGroup:
    if not isinstance(raw, Mapping):
        raise MetadataError("a key group is not a mapping")
    stanzas = []
    for entry in _as_list(raw.get("age"), "age"):
        if not isinstance(entry, Mapping):
            raise MetadataError("an age entry is not a mapping")
        recipient, enc = entry.get("recipient"), entry.get("enc")
        if not isinstance(recipient, str) or not isinstance(enc, str):
            raise MetadataError("an age entry lacks `recipient` or `enc`")
        stanzas.append(AgeStanza(recipient=recipient.strip(), enc=enc))
    names = {*_OTHER_METADATA_KEYS, *OTHER_KEY_TYPES}
    other = tuple(sorted(name for name in names if raw.get(name)))
    return KeyGroup(age=tuple(stanzas), other=other)


def _as_list(value: object, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MetadataError(f"`sops.{name}` is not a list")
    return value


def _str(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MetadataError(f"`sops.{name}` is not a string")
    return value


def _int(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise MetadataError("`sops.shamir_threshold` is not an integer")
    return value


def _lastmodified(value: object) -> str:
    """The timestamp exactly as the MAC's AAD needs it (RFC 3339, seconds, ``Z``)."""
    if isinstance(value, dt.datetime):
        return format_lastmodified(value)
    if not isinstance(value, str) or not value:
        raise MetadataError("`sops.lastmodified` is missing")
    return value


def format_lastmodified(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_lastmodified() -> str:
    return format_lastmodified(dt.datetime.now(dt.UTC))

