"""The data key's envelope: wrapping it for age recipients (Shamir across key groups) and back.

Each file has its own random 32-byte data key. Every age recipient gets it (or, with several key
groups, its group's Shamir share) as an armored age file in ``sops.age[].enc``. Unwrapping costs
one X25519 per tried stanza, which is the price of decrypting a file; everything else is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyrage

from rtssync.sops import shamir
from rtssync.sops.metadata import KeyGroup, SopsMetadata

DATA_KEY_SIZE = 32


class NoMatchingIdentity(Exception):
    """None of the identities opens enough key groups."""


@dataclass(frozen=True, slots=True)
class WrappedGroup:
    """A key group ready to be written: (recipient, armored enc) pairs."""

    age: tuple[tuple[str, str], ...]


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_SIZE)


def unwrap_data_key(
    metadata: SopsMetadata, identities: Sequence[Any], recipients: Sequence[str] = ()
) -> bytes:
    """Recover the data key with the identities, the way sops combines key groups.

    ``recipients`` (each identity's public key, same order) lets the stanza meant for us be
    opened first with just the matching identity: one X25519 instead of one per stanza.
    """
    by_recipient = {r: i for r, i in zip(recipients, identities, strict=False) if r}
    groups = metadata.key_groups
    parts = [p for p in (_open_group(g, identities, by_recipient) for g in groups) if p]
    if len(groups) == 1:
        if not parts:
            raise NoMatchingIdentity
        return parts[0]
    threshold = metadata.shamir_threshold or len(groups)
    if len(parts) < threshold:
        raise NoMatchingIdentity
    try:
        return shamir.combine(parts[:threshold])
    except shamir.ShamirError:
        raise NoMatchingIdentity from None


def _open_group(
    group: KeyGroup, identities: Sequence[Any], by_recipient: Mapping[str, Any]
) -> bytes | None:
    for stanza in group.age:
        matching = by_recipient.get(stanza.recipient)
        if matching is not None:
            part = _open(stanza.enc, [matching])
            if part is not None:
                return part
    if not identities:
        return None
    for stanza in group.age:  # SSH keys, or a recipient label that does not match its stanza
        part = _open(stanza.enc, list(identities))
        if part is not None:
            return part
    return None


def _open(enc: str, identities: list[Any]) -> bytes | None:
    try:
        return bytes(pyrage.decrypt(enc.encode("ascii"), identities))
    except Exception:  # pyrage raises several types for "not for these identities"
        return None


def wrap_data_key(
    data_key: bytes, groups: Sequence[Sequence[str]], threshold: int
) -> tuple[WrappedGroup, ...]:
    """Wrap the key for every recipient; split it with Shamir when there are several groups."""
    if not groups or not all(groups):
        raise ValueError("every key group needs at least one age recipient")
    if len(groups) == 1:
        parts = [data_key]
    else:
        parts = shamir.split(data_key, len(groups), threshold or len(groups))
    return tuple(
        WrappedGroup(age=tuple((r, _wrap(part, r)) for r in recipients))
        for part, recipients in zip(parts, groups, strict=True)
    )


def _wrap(part: bytes, recipient: str) -> str:
    try:
        parsed = pyrage.x25519.Recipient.from_str(recipient)
    except Exception:
        raise ValueError(f"not a valid age recipient: {recipient!r}") from None
    return bytes(pyrage.encrypt(part, [parsed], armored=True)).decode("ascii")
