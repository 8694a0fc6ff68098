"""Setting encrypted values inside an existing file while keeping everything else as written.

The file is edited through ruamel.yaml's round-trip mode, so comments, key order, quoting and
the NOA's ``|`` block survive. The values to encrypt, their AAD and the MAC come from the same
document read as sops reads it (``goyaml``), walked in parallel.

The data key: when the only encrypted values in the file are the ones being replaced, a fresh
key is generated and wrapped for the creation rule's recipients, so someone holding only the
public recipients (no private key) can set credentials. Otherwise the file's key is recovered
with the user's identity and its key groups are kept.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from rtssync.errors import SopsError
from rtssync.sops.cipher import (
    CipherError,
    Comment,
    decrypt_value,
    encrypt_value,
    is_encrypted,
    to_bytes,
)
from rtssync.sops.document import (
    build_metadata,
    data_key_of,
    decrypt_with_key,
    load_document,
    selector_of,
)
from rtssync.sops.envelope import new_data_key
from rtssync.sops.keys import Identities
from rtssync.sops.metadata import (
    SOPS_VERSION,
    MetadataError,
    SopsMetadata,
    now_lastmodified,
    parse_metadata,
)
from rtssync.sops.rules import CreationRule
from rtssync.sops.tree import Path_, Selector, aad, new_mac

Position = tuple[str | int, ...]
"""Where a leaf sits: map keys and list indices (the AAD drops the indices)."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to encrypt this edit: with which key, which values, and what sops block to write."""

    key: bytes
    selector: Selector
    mac_only_encrypted: bool
    existing: SopsMetadata | None
    """Kept key groups when the file's key is reused; None for a fresh key."""


def set_encrypted_values(
    path: Path,
    text: str,
    rule: CreationRule,
    updates: Mapping[Path_, str],
    *,
    identities: Identities | None = None,
) -> str:
    """The file's new text with ``updates`` (map-key paths to plain strings) encrypted in."""
    document = load_document(path, text)
    editable, indent, dash_offset = _load_round_trip(path, text)
    for target in updates:
        _require_parent(path, document, target)
    plan = _plan(path, text, document, rule, set(updates), identities)
    _require_encrypted(path, plan, updates)
    plain = {k: v for k, v in document.items() if k != "sops"}
    for target, value in updates.items():
        _set(plain, target, value)
        _set(editable, target, value)
    mac = _encrypt_in_place(path, editable, plain, plan, set(updates))
    _write_metadata(editable, plan, rule, mac)
    result = _dump(editable, indent, dash_offset)
    _self_check(path, result, plan.key)
    if "\r\n" in text:  # keep Windows line endings, or every line shows in the diff
        result = result.replace("\r\n", "\n").replace("\n", "\r\n")
    return result


def _require_encrypted(path: Path, plan: _Plan, updates: Mapping[Path_, str]) -> None:
    """Refuse before anything is written if the rule would leave an update in plaintext.

    A ``.sops.yaml`` (or an existing ``sops`` block) whose selectors miss ``username`` or
    ``password`` would otherwise put the credential into git in clear, under a valid MAC.
    """
    missed = [".".join(target) for target in updates if not plan.selector.should_encrypt(target)]
    if missed:
        raise SopsError(
            f"{path}: the sops rule would leave {', '.join(missed)} unencrypted; nothing "
            "written. Set encrypted_regex: ^(username|password)$ in .sops.yaml (and re-encrypt "
            "the file) so credentials are always encrypted"
        )


def _plan(
    path: Path,
    text: str,
    document: Mapping[str, Any],
    rule: CreationRule,
    targets: set[Path_],
    identities: Identities | None,
) -> _Plan:
    if "sops" not in document:
        return _fresh(rule)
    try:
        metadata = parse_metadata(document["sops"])
    except MetadataError as error:
        raise SopsError(f"{path}: {error}") from None
    if not _other_encrypted_values(document, selector_of(metadata), targets):
        return _fresh(rule)
    key, metadata = data_key_of(path, text, identities=identities)
    decrypt_with_key(path, document, metadata, key)  # never re-sign a tampered file
    return _Plan(key, selector_of(metadata), metadata.mac_only_encrypted, metadata)


def _fresh(rule: CreationRule) -> _Plan:
    return _Plan(new_data_key(), selector_of(rule), rule.mac_only_encrypted, None)


def _other_encrypted_values(
    document: Mapping[str, Any], selector: Selector, targets: set[Path_]
) -> bool:
    """Whether any encrypted value other than the targets exists (then the old key is needed)."""
    for position, value in _leaves(document):
        keys = _keys(position)
        if keys not in targets and is_encrypted(value) and selector.should_encrypt(keys):
            return True
    return False


def _leaves(node: Any, position: Position = ()) -> list[tuple[Position, Any]]:
    """Every non-null leaf in file order, without the ``sops`` block."""
    found: list[tuple[Position, Any]] = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            if not position and key == "sops":
                continue
            found.extend(_leaves(value, (*position, str(key))))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(_leaves(item, (*position, index)))
    elif node is not None:
        found.append((position, node))
    return found


def _keys(position: Position) -> Path_:
    return tuple(part for part in position if isinstance(part, str))


def _encrypt_in_place(
    path: Path, editable: Any, plain: Mapping[str, Any], plan: _Plan, targets: set[Path_]
) -> str:
    """Encrypt (into ``editable``) every value the selector picks; return the new MAC."""
    mac = new_mac(plan.mac_only_encrypted)
    for position, value in _leaves(plain):
        keys = _keys(position)
        encrypted = plan.selector.should_encrypt(keys)
        if not encrypted:
            if not plan.mac_only_encrypted:
                mac.update(to_bytes(value))
            continue
        if keys not in targets and is_encrypted(value) and plan.existing is not None:
            value = _decrypt_kept(path, value, plan.key, keys)
        elif keys not in targets and is_encrypted(value):
            raise SopsError(f"{path}: {'.'.join(keys)} is encrypted with another key")
        if isinstance(value, Comment):
            continue  # an encrypted comment in a list: kept as is, never part of the MAC
        mac.update(to_bytes(value))
        if keys in targets or not is_encrypted(_get(editable, position)):
            _set(editable, position, encrypt_value(value, plan.key, aad(keys)))
    return mac.hexdigest().upper()


def _decrypt_kept(path: Path, value: str, key: bytes, keys: Path_) -> Any:
    try:
        return decrypt_value(value, key, aad(keys))
    except CipherError:
        raise SopsError(
            f"{path}: {'.'.join(keys)} cannot be decrypted; the file was tampered with or damaged"
        ) from None


def _write_metadata(editable: CommentedMap, plan: _Plan, rule: CreationRule, mac: str) -> None:
    lastmodified = now_lastmodified()
    if plan.existing is None:
        block = build_metadata(plan.key, mac, rule, lastmodified)
    else:
        block = _kept_metadata(editable["sops"], plan.key, mac, lastmodified)
    editable["sops"] = _literal_enc(block)


def _kept_metadata(old: Any, key: bytes, mac: str, lastmodified: str) -> dict[str, Any]:
    """The file's own sops block with a new timestamp and MAC (recipients unchanged)."""
    block = dict(old)
    block["lastmodified"] = lastmodified
    block["mac"] = encrypt_value(mac, key, lastmodified)
    block["version"] = SOPS_VERSION
    return block


def _literal_enc(node: Any) -> Any:
    """Armored age blocks as ``|`` literals, as sops writes them."""
    if isinstance(node, Mapping):
        result = CommentedMap()
        for key, value in node.items():
            result[key] = _literal_enc(value)
            if key == "enc" and isinstance(value, str):
                result[key] = LiteralScalarString(value)
            elif key == "lastmodified" and isinstance(value, str):
                result[key] = DoubleQuotedScalarString(value)
        return result
    if isinstance(node, list):
        return CommentedSeq(_literal_enc(item) for item in node)
    return node


def _load_round_trip(path: Path, text: str) -> tuple[CommentedMap, int, int]:
    """The editable document, plus the file's mapping indent and sequence dash offset."""
    try:
        data = _round_trip_yaml(2, 0).load(text)
    except RuamelYAMLError as error:
        raise SopsError(f"{path}: not valid YAML ({type(error).__name__})") from None
    if not isinstance(data, CommentedMap):
        raise SopsError(f"{path}: not a YAML mapping")
    indent, dash_offset = guess_indentation(text)
    return data, indent, dash_offset


def guess_indentation(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset) as the file uses them: 4 and 4 for sops, 2 and 0 for
    PyYAML. Only block keys with nothing after the colon are looked at; the first nested
    mapping and the first nested sequence decide."""
    indent: int | None = None
    dash_offset: int | None = None
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    for line, following in itertools.pairwise(lines):
        if not line.rstrip().endswith(":") or line.lstrip().startswith("- "):
            continue
        step = _width(following) - _width(line)
        if following.lstrip().startswith("- ") and dash_offset is None and step >= 0:
            dash_offset = step
        elif step > 0 and indent is None:
            indent = step
    return indent or 2, dash_offset or 0


def _width(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _round_trip_yaml(indent: int, dash_offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=indent, sequence=max(indent, dash_offset + 2), offset=dash_offset)
    yaml.representer.add_representer(type(None), _represent_null)
    return yaml


def _represent_null(representer: RoundTripRepresenter, _: None) -> ScalarNode:
    """``null`` spelled out, as the file had it (ruamel would write an empty value)."""
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _dump(data: CommentedMap, indent: int, dash_offset: int) -> str:
    buffer = io.StringIO()
    _round_trip_yaml(indent, dash_offset).dump(data, buffer)
    return buffer.getvalue()


def _require_parent(path: Path, document: Mapping[str, Any], target: Path_) -> None:
    node: Any = document
    for part in target[:-1]:
        node = node.get(part) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            raise SopsError(f"{path}: has no `{'.'.join(target[:-1])}` mapping to write into")


def _get(node: Any, position: Position) -> Any:
    for part in position:
        node = node[part]
    return node


def _set(node: Any, position: Position, value: Any) -> None:
    for part in position[:-1]:
        node = node[part]
    node[position[-1]] = value


def _self_check(path: Path, text: str, key: bytes) -> None:
    """Decrypt what is about to be written; never write a file sops would reject."""
    document = load_document(path, text)
    decrypt_with_key(path, document, parse_metadata(document.get("sops")), key)
