"""Walking a document the way sops does: which values are encrypted, their AAD, and the MAC.

sops visits values depth-first in file order. A value's AAD is its chain of map keys joined by
``:`` plus a trailing ``:`` (list indices are not part of it). The MAC is SHA-512 over the plain
values' bytes in that order: all non-null values, or, with ``mac_only_encrypted``, only the
encrypted ones after a fixed 32-byte seed (``sha256("sops")``). Comments never count.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rtssync.sops.cipher import (
    CipherError,
    Comment,
    decrypt_value,
    encrypt_value,
    to_bytes,
)

MAC_ONLY_ENCRYPTED_SEED = hashlib.sha256(b"sops").digest()
DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"

Path_ = tuple[str, ...]


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class TreeError(Exception):
    """A value cannot be processed; ``path`` says which (never its plaintext)."""

    def __init__(self, path: Path_, message: str) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{'.'.join(path) or '<root>'}: {message}")


@dataclass(frozen=True, slots=True)
class Selector:
    """Which values are encrypted, from the file's (or rule's) suffix/regex settings."""

    unencrypted_suffix: str | None = None
    encrypted_suffix: str | None = None
    unencrypted_regex: str | None = None
    encrypted_regex: str | None = None

    def should_encrypt(self, path: Path_) -> bool:
        """sops ``shouldBeEncrypted`` (without the comment regexes)."""
        encrypted = True
        if self.unencrypted_suffix and any(k.endswith(self.unencrypted_suffix) for k in path):
            encrypted = False
        if self.encrypted_suffix:
            encrypted = any(k.endswith(self.encrypted_suffix) for k in path)
        if self.unencrypted_regex and any(_search(self.unencrypted_regex, k) for k in path):
            encrypted = False
        if self.encrypted_regex:
            encrypted = any(_search(self.encrypted_regex, k) for k in path)
        return encrypted


_compiled: dict[str, re.Pattern[str]] = {}


def _search(pattern: str, text: str) -> bool:
    compiled = _compiled.get(pattern)
    if compiled is None:
        compiled = _compiled[pattern] = re.compile(pattern)
    return compiled.search(text) is not None


def new_mac(mac_only_encrypted: bool) -> _Hash:
    digest = hashlib.sha512()
    if mac_only_encrypted:
        digest.update(MAC_ONLY_ENCRYPTED_SEED)
    return digest


def aad(path: Path_) -> str:
    return ":".join(path) + ":"


Leaf = Callable[[Any, Path_, bool], Any]
"""Called for each leaf with (value, path, should_encrypt); returns the replacement."""


_DROP = object()


def walk(tree: Mapping[str, Any], selector: Selector, on_leaf: Leaf) -> dict[str, Any]:
    """Rebuild ``tree`` (without its ``sops`` block) with every leaf passed through ``on_leaf``."""
    return {
        key: _walk_value(value, (str(key),), selector, on_leaf)
        for key, value in tree.items()
        if key != "sops"
    }


def _walk_value(value: Any, path: Path_, selector: Selector, on_leaf: Leaf) -> Any:
    if isinstance(value, Mapping):
        return {k: _walk_value(v, (*path, str(k)), selector, on_leaf) for k, v in value.items()}
    if isinstance(value, list):
        items = (_walk_value(item, path, selector, on_leaf) for item in value)
        return [item for item in items if item is not _DROP]
    if value is None:
        return None  # sops neither encrypts nor hashes null
    return on_leaf(value, path, _should_encrypt(selector, path))


@functools.lru_cache(maxsize=8192)
def _should_encrypt(selector: Selector, path: Path_) -> bool:
    """Cached: 1,000 subsidiary files share the same few dozen paths (speed)."""
    return selector.should_encrypt(path)


def decrypt_tree(
    tree: Mapping[str, Any], key: bytes, selector: Selector, mac_only_encrypted: bool
) -> tuple[dict[str, Any], str]:
    """Decrypt every encrypted value in memory; give the plain tree and the computed MAC."""
    aead = AESGCM(key)
    mac = new_mac(mac_only_encrypted)

    def leaf(value: Any, path: Path_, encrypted: bool) -> Any:
        if encrypted:
            if not isinstance(value, str):
                raise TreeError(path, "should be encrypted but is a plain value")
            try:
                value = decrypt_value(value, key, aad(path), aead)
            except CipherError as error:
                raise TreeError(path, str(error)) from None
        if isinstance(value, Comment):
            return _DROP
        if encrypted or not mac_only_encrypted:
            mac.update(to_bytes(value))
        return value

    plain = walk(tree, selector, leaf)
    return plain, mac.hexdigest().upper()


def encrypt_tree(
    tree: Mapping[str, Any], key: bytes, selector: Selector, mac_only_encrypted: bool
) -> tuple[dict[str, Any], str]:
    """Encrypt the values the selector picks; give the encrypted tree and the MAC."""
    mac = new_mac(mac_only_encrypted)

    def leaf(value: Any, path: Path_, encrypted: bool) -> Any:
        if encrypted or not mac_only_encrypted:
            mac.update(to_bytes(value))
        if not encrypted:
            return value
        try:
            return encrypt_value(value, key, aad(path))
        except CipherError as error:
            raise TreeError(path, str(error)) from None

    encrypted_tree = walk(tree, selector, leaf)
    return encrypted_tree, mac.hexdigest().upper()
