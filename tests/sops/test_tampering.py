"""A changed file never decrypts to wrong plaintext: every kind of tampering is a SopsError."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rtssync.errors import SopsError
from rtssync.sops import decrypt_document, find_identities
from rtssync.sops.keys import Identities
from tests.sops.support import (
    AgeKey,
    new_age_key,
    sops_decrypt,
    sops_decrypt_fails,
    sops_encrypt,
    write_sops_config,
)

PLAIN = """name: Alpha Freight LLC
notice_of_assignment: |
  NOTICE OF ASSIGNMENT: pay RTS only.
factoring:
  ftp:
    host: devftp.rtsfinancial.com
    username: alpha-user
    password: alpha-secret
"""


def encrypted(tmp_path: Path, mac_only: bool) -> tuple[Path, str, Identities]:
    key = new_age_key(tmp_path / "keys")
    rule = f"    age: {key.recipient}\n    encrypted_regex: ^(username|password)$\n"
    if mac_only:
        rule += "    mac_only_encrypted: true\n"
    write_sops_config(tmp_path / "repo", rule)
    data = sops_encrypt(tmp_path / "repo", "alpha.yaml", PLAIN, key).decode()
    identities = find_identities({"SOPS_AGE_KEY": key.secret, "HOME": str(tmp_path)})
    return tmp_path / "repo/alpha.yaml", data, identities


def field(text: str, name: str) -> str:
    match = re.search(rf"^\s*{name}: (ENC\[.*\])$", text, re.MULTILINE)
    assert match is not None
    return match[1]


def flip(text: str, part: str, value_name: str) -> str:
    """Change one base64 character in ``part`` (data/iv/tag) of the named encrypted value."""
    original = field(text, value_name)
    match = re.search(rf"{part}:([^,]+)", original)
    assert match is not None
    b64 = match[1]
    changed = ("B" if b64[0] != "B" else "C") + b64[1:]
    return text.replace(original, original.replace(f"{part}:{b64}", f"{part}:{changed}"))


@pytest.mark.parametrize("part", ["data", "iv", "tag"])
def test_changed_ciphertext_iv_or_tag_is_refused(tmp_path: Path, part: str) -> None:
    path, text, ids = encrypted(tmp_path, mac_only=True)
    with pytest.raises(SopsError, match=rf"{re.escape(str(path))}: value factoring\.ftp\.password"):
        decrypt_document(path, flip(text, part, "password"), identities=ids)


def test_changed_mac_is_refused(tmp_path: Path) -> None:
    path, text, ids = encrypted(tmp_path, mac_only=True)
    with pytest.raises(SopsError, match=r"the MAC \(sops\.mac\) cannot be decrypted"):
        decrypt_document(path, flip(text, "data", "mac"), identities=ids)


def test_changed_lastmodified_is_refused(tmp_path: Path) -> None:
    path, text, ids = encrypted(tmp_path, mac_only=True)
    tampered = re.sub(r'lastmodified: "(\d{4})', r'lastmodified: "1999', text)
    with pytest.raises(SopsError, match="MAC"):
        decrypt_document(path, tampered, identities=ids)


def test_swapped_encrypted_values_are_refused(tmp_path: Path) -> None:
    path, text, ids = encrypted(tmp_path, mac_only=True)
    username, password = field(text, "username"), field(text, "password")
    swapped = text.replace(username, "@@U@@").replace(password, username).replace("@@U@@", password)
    with pytest.raises(SopsError, match=r"factoring\.ftp\.username cannot be decrypted"):
        decrypt_document(path, swapped, identities=ids)


def test_plaintext_where_a_credential_should_be_encrypted_is_refused(tmp_path: Path) -> None:
    path, text, ids = encrypted(tmp_path, mac_only=True)
    tampered = text.replace(field(text, "password"), "typed-in-plain")
    with pytest.raises(SopsError, match=r"factoring\.ftp\.password cannot be decrypted") as caught:
        decrypt_document(path, tampered, identities=ids)
    assert "typed-in-plain" not in str(caught.value)


def test_editing_the_noa_breaks_a_full_mac_and_says_what_to_do(tmp_path: Path) -> None:
    path, text, ids = encrypted(tmp_path, mac_only=False)
    edited = text.replace("pay RTS only.", "pay someone else.")
    path.write_text(edited)
    with pytest.raises(SopsError, match="MAC mismatch") as caught:
        decrypt_document(path, edited, identities=ids)
    assert str(path) in str(caught.value)
    assert "mac_only_encrypted: true" in str(caught.value)
    assert "MAC mismatch" in sops_decrypt_fails(path, new_key_from(tmp_path))


def new_key_from(tmp_path: Path) -> AgeKey:
    """The key ``encrypted`` wrote (re-read, so sops can be asked too)."""
    file = tmp_path / "keys/key.txt"
    lines = file.read_text().splitlines()
    return AgeKey(secret=lines[1], recipient=lines[0].split(": ")[1], file=file)


def test_editing_the_noa_is_fine_with_mac_only_encrypted(tmp_path: Path) -> None:
    path, text, ids = encrypted(tmp_path, mac_only=True)
    edited = text.replace("pay RTS only.", "pay RTS Financial only.")
    path.write_text(edited)
    plain = decrypt_document(path, edited, identities=ids)
    assert plain["notice_of_assignment"] == "NOTICE OF ASSIGNMENT: pay RTS Financial only.\n"
    assert plain["factoring"]["ftp"]["password"] == "alpha-secret"
    key = new_key_from(tmp_path)
    assert sops_decrypt(path, key)["notice_of_assignment"] == plain["notice_of_assignment"]


def test_a_removed_encrypted_value_breaks_the_mac(tmp_path: Path) -> None:
    path, text, ids = encrypted(tmp_path, mac_only=True)
    removed = re.sub(r"^\s*username: .*\n", "", text, flags=re.MULTILINE)
    with pytest.raises(SopsError, match="MAC mismatch"):
        decrypt_document(path, removed, identities=ids)


def test_garbage_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    for text in ("", "- a list\n", "a: [unclosed\n", "a: 1\nsops: 3\n", "a: 1\n"):
        with pytest.raises(SopsError, match=re.escape(str(path))):
            decrypt_document(path, text, identities=find_identities({}))
