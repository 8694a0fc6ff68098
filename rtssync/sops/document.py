"""Whole documents: read metadata, decrypt, encrypt. The public face of ``rtssync.sops``.

Everything happens in memory; no function here writes a file. Errors are :class:`SopsError`
naming the file, with what to do, and never contain plaintext.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from rtssync.errors import SopsError
from rtssync.sops import goyaml
from rtssync.sops.binary import decrypt_with_sops, sops_binary
from rtssync.sops.cipher import CipherError, decrypt_value, encrypt_value, go_format_time
from rtssync.sops.envelope import NoMatchingIdentity, unwrap_data_key, wrap_data_key
from rtssync.sops.keys import Identities, find_identities
from rtssync.sops.metadata import (
    SOPS_VERSION,
    MetadataError,
    SopsMetadata,
    now_lastmodified,
    parse_metadata,
)
from rtssync.sops.rules import CreationRule
from rtssync.sops.tree import (
    DEFAULT_UNENCRYPTED_SUFFIX,
    Selector,
    TreeError,
    decrypt_tree,
    encrypt_tree,
)

ValuePath = tuple[str, ...]


def load_document(path: Path, data: bytes | str) -> dict[str, Any]:
    """Parse a SOPS YAML file with go-yaml's scalar types."""
    try:
        document = goyaml.load(data)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SopsError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(document, dict):
        raise SopsError(f"{path}: not a YAML mapping, so not a sops file")
    return document


def read_metadata(data: bytes | str, path: Path | None = None) -> SopsMetadata:
    """The ``sops`` block, parsed. Needs no key."""
    where = path or Path("<input>")
    return _metadata(where, load_document(where, data))


def _metadata(path: Path, document: Mapping[str, Any]) -> SopsMetadata:
    try:
        return parse_metadata(document.get("sops"))
    except MetadataError as error:
        raise SopsError(f"{path}: {error}") from None


def selector_of(source: SopsMetadata | CreationRule) -> Selector:
    """Which values are encrypted; sops's default is everything but ``*_unencrypted`` keys."""
    selector = Selector(
        unencrypted_suffix=source.unencrypted_suffix,
        encrypted_suffix=source.encrypted_suffix,
        unencrypted_regex=source.unencrypted_regex,
        encrypted_regex=source.encrypted_regex,
    )
    if selector == Selector() and not _comment_selector(source):
        return Selector(unencrypted_suffix=DEFAULT_UNENCRYPTED_SUFFIX)
    return selector


def _comment_selector(source: SopsMetadata | CreationRule) -> bool:
    return bool(source.encrypted_comment_regex or source.unencrypted_comment_regex)


def decrypt_document(
    path: Path, data: bytes | str, *, identities: Identities | None = None
) -> dict[str, Any]:
    """The whole document, decrypted in memory (without its ``sops`` block); MAC verified."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    document = load_document(path, raw)
    metadata = _metadata(path, document)
    if _comment_selector(metadata):
        return decrypt_with_sops(path, raw, "it uses encrypted/unencrypted_comment_regex")
    found = identities if identities is not None else find_identities()
    try:
        key = unwrap_data_key(metadata, found.identities, found.recipients)
    except NoMatchingIdentity:
        if metadata.other_key_types and (sops_binary() is not None or not metadata.recipients):
            # With no age recipient at all, decrypt_with_sops explains that sops is needed.
            kinds = ", ".join(metadata.other_key_types)
            return decrypt_with_sops(path, raw, f"it is encrypted with {kinds} keys")
        raise _no_key_error(path, metadata, found) from None
    return decrypt_with_key(path, document, metadata, key)


def decrypt_with_key(
    path: Path, document: Mapping[str, Any], metadata: SopsMetadata, key: bytes
) -> dict[str, Any]:
    """Decrypt with a known data key and check the MAC."""
    try:
        plain, mac = decrypt_tree(document, key, selector_of(metadata), metadata.mac_only_encrypted)
    except TreeError as error:
        raise SopsError(
            f"{path}: value {'.'.join(error.path)} cannot be decrypted "
            f"({error.reason}); the file was tampered with or damaged"
        ) from None
    _verify_mac(path, metadata, key, mac)
    return plain


def decrypt_values(
    path: Path,
    data: bytes | str,
    paths: Iterable[ValuePath],
    *,
    identities: Identities | None = None,
) -> dict[ValuePath, Any]:
    """Only the requested values (e.g. the FTP username and password), MAC still verified.

    The MAC needs every encrypted value, so they are all decrypted in memory; only the
    requested ones are returned. A requested path that is absent is left out of the result.
    """
    return _pick(decrypt_document(path, data, identities=identities), paths)


def decrypt_parsed_values(
    path: Path,
    document: Mapping[str, Any],
    paths: Iterable[ValuePath],
    *,
    identities: Identities | None = None,
) -> dict[ValuePath, Any]:
    """:func:`decrypt_values` for a document another YAML reader already parsed (the
    validating loader, :mod:`rtssync.load`), so the file is not read and parsed a second time.

    Only for ``mac_only_encrypted`` files: their MAC covers the encrypted values alone, and
    those are ``ENC[...]`` strings every YAML reader reads alike, so how a reader types the
    plain values cannot change what is decrypted or verified. Anything else (a MAC over every
    value, comment encryption, non-age keys) goes the file's way: ``path`` is read again and
    parsed the way sops parses it. ``document`` must be the file's complete data, ``sops``
    block included, exactly as parsed.
    """
    metadata = _metadata(path, document)
    if not metadata.mac_only_encrypted or _comment_selector(metadata) or (
        metadata.other_key_types
    ):
        return decrypt_values(path, path.read_bytes(), paths, identities=identities)
    key = _unwrap_age(path, metadata, identities)
    return _pick(decrypt_with_key(path, document, metadata, key), paths)


def _pick(plain: Mapping[str, Any], paths: Iterable[ValuePath]) -> dict[ValuePath, Any]:
    result: dict[ValuePath, Any] = {}
    for wanted in paths:
        node: Any = plain
        for part in wanted:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            result[tuple(wanted)] = node
    return result


def data_key_of(
    path: Path, data: bytes | str, *, identities: Identities | None = None
) -> tuple[bytes, SopsMetadata]:
    """The file's data key (native age only), for callers that rewrite some values."""
    metadata = _metadata(path, load_document(path, data))
    return _unwrap_age(path, metadata, identities), metadata


def _unwrap_age(path: Path, metadata: SopsMetadata, identities: Identities | None) -> bytes:
    """The data key from the file's age stanzas, or a SopsError saying which key is needed."""
    found = identities if identities is not None else find_identities()
    try:
        return unwrap_data_key(metadata, found.identities, found.recipients)
    except NoMatchingIdentity:
        raise _no_key_error(path, metadata, found) from None


def _verify_mac(path: Path, metadata: SopsMetadata, key: bytes, computed: str) -> None:
    if not metadata.mac:
        raise SopsError(f"{path}: has no MAC (sops.mac); it cannot be trusted")
    try:
        stored = decrypt_value(metadata.mac, key, metadata.lastmodified)
    except CipherError:
        raise SopsError(
            f"{path}: the MAC (sops.mac) cannot be decrypted; sops.mac or sops.lastmodified "
            "was changed or damaged"
        ) from None
    if not isinstance(stored, str) or not hmac.compare_digest(stored, computed):
        raise SopsError(_mac_mismatch_message(path, metadata))


def _mac_mismatch_message(path: Path, metadata: SopsMetadata) -> str:
    message = (
        f"{path}: MAC mismatch: the file changed after it was encrypted "
        "(a value was edited, added, removed or reordered)"
    )
    if not metadata.mac_only_encrypted:
        message += (
            ". The MAC covers every value here, so editing an unencrypted value (like the NOA) "
            "breaks it: set `mac_only_encrypted: true` in the .sops.yaml rule and re-encrypt "
            "with sops, or revert the edit"
        )
    return message


def _no_key_error(path: Path, metadata: SopsMetadata, found: Identities) -> SopsError:
    recipients = ", ".join(metadata.recipients) or "none"
    others = (
        f"; also {', '.join(metadata.other_key_types)} keys" if metadata.other_key_types else ""
    )
    hint = (
        " (the sops binary is needed for those: install sops)"
        if metadata.other_key_types and sops_binary() is None
        else ""
    )
    return SopsError(
        f"{path}: no age identity can decrypt it. Recipients: {recipients}{others}{hint}. "
        f"Looked in: {found.describe_search()}. Provide the private key for one recipient, "
        "e.g. SOPS_AGE_KEY_FILE=path/to/keys.txt"
    )


def encrypt_document(
    path: Path,
    plain: Mapping[str, Any],
    rule: CreationRule,
    *,
    lastmodified: str | None = None,
) -> str:
    """A complete sops YAML file for ``plain``, encrypted per ``rule`` with a fresh data key."""
    from rtssync.sops.envelope import new_data_key

    key = new_data_key()
    selector = selector_of(rule)
    try:
        encrypted, mac = encrypt_tree(plain, key, selector, rule.mac_only_encrypted)
    except TreeError as error:
        raise SopsError(f"{path}: {error}") from None
    encrypted["sops"] = build_metadata(key, mac, rule, lastmodified or now_lastmodified())
    return dump_yaml(encrypted)


def build_metadata(key: bytes, mac: str, rule: CreationRule, lastmodified: str) -> dict[str, Any]:
    """The ``sops`` block for a file encrypted per ``rule`` (layout of sops 3.11)."""
    if any(group.other for group in rule.key_groups) or not rule.age_recipients:
        raise SopsError(
            f"{rule.source}: rule {rule.index + 1} uses non-age keys or no age recipient; "
            "rtssync writes files for age recipients only (use the sops binary for the others)"
        )
    groups = [group.age for group in rule.key_groups]
    try:
        wrapped = wrap_data_key(key, groups, rule.shamir_threshold)
    except ValueError as error:
        raise SopsError(f"{rule.source}: {error}") from None
    block: dict[str, Any] = {}
    stanzas = [[{"recipient": r, "enc": enc} for r, enc in group.age] for group in wrapped]
    if len(stanzas) == 1:
        block["age"] = stanzas[0]
    else:
        block["key_groups"] = [{"age": group} for group in stanzas]
        block["shamir_threshold"] = rule.shamir_threshold or len(stanzas)
    block["lastmodified"] = lastmodified
    block["mac"] = encrypt_value(mac, key, lastmodified)
    block.update(_selector_fields(rule))
    if rule.mac_only_encrypted:
        block["mac_only_encrypted"] = True
    block["version"] = SOPS_VERSION
    return block


def _selector_fields(rule: CreationRule) -> dict[str, str]:
    selector = selector_of(rule)
    fields = {
        "unencrypted_suffix": selector.unencrypted_suffix,
        "encrypted_suffix": selector.encrypted_suffix,
        "unencrypted_regex": selector.unencrypted_regex,
        "encrypted_regex": selector.encrypted_regex,
    }
    return {name: value for name, value in fields.items() if value}


class _Dumper(yaml.SafeDumper):
    """Block style, 4-space indent like sops, literal blocks for multi-line strings."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Literal blocks for multi-line text; quotes for strings go-yaml would read as another
    type (``0o17``, ``1_000``: PyYAML's YAML 1.1 rules leave those plain)."""
    style = "|" if "\n" in value and _literal_safe(value) else None
    if style is None and (not goyaml.resolves_to_string(value) or _needs_escapes(value)):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _needs_escapes(value: str) -> bool:
    """Control characters and Unicode line breaks survive only as double-quoted escapes
    (PyYAML folds a NEL inside single quotes into a space)."""
    return any(c < " " or c in "\x7f\x85\u2028\u2029\ufeff" for c in value)


def _literal_safe(value: str) -> bool:
    return not value.startswith((" ", "\t")) and not _needs_escapes(value.replace("\n", ""))


def _time_representer(dumper: yaml.SafeDumper, value: dt.datetime) -> yaml.ScalarNode:
    """RFC 3339 with ``T``: go-yaml does not read PyYAML's ``2024-01-02 03:04:05+00:00``."""
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", go_format_time(value))


_Dumper.add_representer(str, _str_representer)
_Dumper.add_representer(dt.datetime, _time_representer)


def dump_yaml(document: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(document),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        indent=4,
        default_flow_style=False,
        width=4096,
    )

