"""set_encrypted_values on files sops wrote: keys reused when needed, tampering never re-signed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rtssync.errors import SopsError
from rtssync.sops import find_creation_rule, find_identities, set_encrypted_values
from tests.sops.support import AgeKey, new_age_key, sops_decrypt, sops_encrypt, write_sops_config

PLAIN = """# subsidiary
name: Alpha Freight LLC
tags:
  - one  # a comment inside a list
  - two
factoring:
  ftp:
    host: devftp.rtsfinancial.com
    username: old-user
    password: old-password
"""
CREDENTIALS: dict[tuple[str, ...], str] = {
    ("factoring", "ftp", "username"): "new-user",
    ("factoring", "ftp", "password"): "p",
}


def fully_encrypted(tmp_path: Path) -> tuple[Path, str, AgeKey]:
    key = new_age_key(tmp_path / "keys")
    write_sops_config(tmp_path / "repo", f"    age: {key.recipient}\n")
    text = sops_encrypt(tmp_path / "repo", "alpha.yaml", PLAIN, key).decode()
    return tmp_path / "repo/alpha.yaml", text, key


def test_a_fully_encrypted_file_keeps_its_key_and_other_values(tmp_path: Path) -> None:
    path, text, key = fully_encrypted(tmp_path)
    ids = find_identities({"SOPS_AGE_KEY": key.secret, "HOME": str(tmp_path)})
    rule = find_creation_rule(tmp_path / "repo", path)

    new_text = set_encrypted_values(path, text, rule, CREDENTIALS, identities=ids)
    path.write_text(new_text)

    name_line = re.compile(r"^name: .*$", re.MULTILINE)
    assert name_line.findall(new_text) == name_line.findall(text)
    assert sops_decrypt(path, key) == {
        "name": "Alpha Freight LLC",
        "tags": ["one", "two"],
        "factoring": {
            "ftp": {"host": "devftp.rtsfinancial.com", "username": "new-user", "password": "p"}
        },
    }


def test_without_the_key_a_fully_encrypted_file_is_refused(tmp_path: Path) -> None:
    path, text, _ = fully_encrypted(tmp_path)
    rule = find_creation_rule(tmp_path / "repo", path)
    with pytest.raises(SopsError, match="no age identity can decrypt it"):
        set_encrypted_values(path, text, rule, CREDENTIALS, identities=find_identities({}))


def test_a_tampered_file_is_not_re_signed(tmp_path: Path) -> None:
    path, text, key = fully_encrypted(tmp_path)
    ids = find_identities({"SOPS_AGE_KEY": key.secret, "HOME": str(tmp_path)})
    rule = find_creation_rule(tmp_path / "repo", path)
    name = re.search(r"^name: (ENC\[.*\])$", text, re.MULTILINE)
    host = re.search(r"^\s+host: (ENC\[.*\])$", text, re.MULTILINE)
    assert name is not None
    assert host is not None
    swapped = text.replace(name[1], "@@").replace(host[1], name[1]).replace("@@", host[1])

    with pytest.raises(SopsError, match="cannot be decrypted"):
        set_encrypted_values(path, swapped, rule, CREDENTIALS, identities=ids)
