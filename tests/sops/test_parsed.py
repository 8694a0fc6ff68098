"""Decrypting from a document the validating loader already parsed (no second read or parse).

The file on disk is removed before each parsed-path decryption: whatever comes back (values or
a SopsError) came from the parsed document, not from the file path reading it again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rtssync.errors import SopsError
from rtssync.load import load_yaml_bytes
from rtssync.sops import decrypt_parsed_values, decrypt_values, find_identities
from rtssync.sops.keys import Identities
from tests.conftest import CANARY_PASSWORD
from tests.sops.support import new_age_key, sops_encrypt, write_sops_config
from tests.sops.test_interop import PASSWORDS, RULES, plain_text
from tests.sops.test_tampering import PLAIN, field, flip

USERNAME = ("factoring", "ftp", "username")
PASSWORD = ("factoring", "ftp", "password")
CREDENTIALS = [USERNAME, PASSWORD]


def sops_file(tmp_path: Path, plain: str, rule: str) -> tuple[Path, bytes, Identities]:
    """``plain`` encrypted by the real sops binary under ``rule``, and identities that open it."""
    key = new_age_key(tmp_path / "keys")
    write_sops_config(tmp_path / "repo", f"    age: {key.recipient}\n" + rule)
    data = sops_encrypt(tmp_path / "repo", "sub.yaml", plain, key)
    identities = find_identities({"SOPS_AGE_KEY": key.secret, "HOME": str(tmp_path)})
    return tmp_path / "repo/sub.yaml", data, identities


def validated(path: Path, data: bytes) -> dict[str, Any]:
    """The document as rtssync's validating loader gives it (YAML 1.1 types, not go-yaml's)."""
    loaded = load_yaml_bytes(data, path)
    assert isinstance(loaded.data, dict)
    return loaded.data


def parsed_only(path: Path, data: bytes, identities: Identities) -> dict[Any, Any]:
    """Decrypt through the parsed path with the file gone, so it cannot have been read."""
    document = validated(path, data)
    path.unlink(missing_ok=True)
    return decrypt_parsed_values(path, document, CREDENTIALS, identities=identities)


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_sops_written_file_decrypts_the_same_from_the_parsed_document(
    tmp_path: Path, password: str
) -> None:
    path, data, ids = sops_file(tmp_path, plain_text(password),
                                RULES["credentials-only-mac-only"])
    by_file = decrypt_values(path, data, CREDENTIALS, identities=ids)

    by_parsed = parsed_only(path, data, ids)

    assert by_parsed == by_file == {USERNAME: "rts-user@example", PASSWORD: password}


def test_plain_values_typed_differently_by_the_two_readers_do_not_matter(
    tmp_path: Path,
) -> None:
    # sops writes `big: 1e+20` and unquoted timestamps: go-yaml reads a float and times, the
    # validating loader text and (reported, left out) None; the MAC never sees plain values.
    path, data, ids = sops_file(tmp_path, plain_text(CANARY_PASSWORD),
                                RULES["credentials-only-mac-only"])
    document = validated(path, data)
    assert (document["big"], document["when"]) == ("1e+20", None)

    values = decrypt_parsed_values(path, document, [PASSWORD], identities=ids)

    assert values == {PASSWORD: CANARY_PASSWORD}


def test_a_requested_value_that_is_absent_is_left_out(tmp_path: Path) -> None:
    path, data, ids = sops_file(tmp_path, PLAIN, RULES["credentials-only-mac-only"])
    document = validated(path, data)
    path.unlink()

    values = decrypt_parsed_values(path, document, [USERNAME, ("missing",)], identities=ids)

    assert values == {USERNAME: "alpha-user"}


def test_without_a_matching_key_the_error_names_the_file(tmp_path: Path) -> None:
    path, data, _ = sops_file(tmp_path, PLAIN, RULES["credentials-only-mac-only"])
    other = new_age_key(tmp_path / "other")
    stranger = find_identities({"SOPS_AGE_KEY": other.secret, "HOME": str(tmp_path)})

    with pytest.raises(SopsError, match=rf"{re.escape(str(path))}: no age identity can decrypt"):
        parsed_only(path, data, stranger)


def tampered(text: str, how: str) -> str:
    if how in ("data", "iv", "tag"):
        return flip(text, how, "password")
    if how == "mac":
        return flip(text, "data", "mac")
    if how == "lastmodified":
        return re.sub(r'lastmodified: "(\d{4})', r'lastmodified: "1999', text)
    if how == "swapped":
        username, password = field(text, "username"), field(text, "password")
        return (text.replace(username, "@@U@@").replace(password, username)
                .replace("@@U@@", password))
    if how == "removed":
        return text.replace(f"    password: {field(text, 'password')}\n", "")
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["data", "iv", "tag", "mac", "lastmodified", "swapped",
                                 "removed"])
def test_tampering_is_refused_from_the_parsed_document_as_from_the_file(
    tmp_path: Path, how: str
) -> None:
    path, data, ids = sops_file(tmp_path, PLAIN, RULES["credentials-only-mac-only"])
    changed = tampered(data.decode(), how).encode()
    assert changed != data
    with pytest.raises(SopsError) as by_file:
        decrypt_values(path, changed, CREDENTIALS, identities=ids)

    with pytest.raises(SopsError) as by_parsed:
        parsed_only(path, changed, ids)

    assert str(by_parsed.value) == str(by_file.value)
    assert str(by_parsed.value).startswith(f"{path}: ")
    assert "alpha-secret" not in str(by_parsed.value)


def test_a_file_whose_mac_covers_every_value_is_read_again_and_still_decrypts(
    tmp_path: Path,
) -> None:
    path, data, ids = sops_file(tmp_path, PLAIN, RULES["credentials-only-full-mac"])
    document = validated(path, data)

    values = decrypt_parsed_values(path, document, CREDENTIALS, identities=ids)

    assert values == {USERNAME: "alpha-user", PASSWORD: "alpha-secret"}
    path.unlink()
    with pytest.raises(FileNotFoundError):  # the fallback reads the file, as sops parses it
        decrypt_parsed_values(path, document, CREDENTIALS, identities=ids)


def test_a_full_mac_file_edited_on_disk_is_refused_through_the_fallback(tmp_path: Path) -> None:
    path, data, ids = sops_file(tmp_path, PLAIN, RULES["credentials-only-full-mac"])
    document = validated(path, data)
    path.write_text(data.decode().replace("pay RTS only.", "pay someone else."))

    with pytest.raises(SopsError, match="MAC mismatch"):
        decrypt_parsed_values(path, document, CREDENTIALS, identities=ids)
