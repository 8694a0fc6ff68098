"""Interoperability with the real sops binary, both ways: same values, every type."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rtssync.errors import SopsError
from rtssync.sops import (
    decrypt_document,
    decrypt_values,
    encrypt_document,
    find_creation_rule,
    find_identities,
    is_encrypted,
    read_metadata,
)
from rtssync.sops.goyaml import load
from tests.conftest import CANARY_PASSWORD
from tests.sops.support import (
    AgeKey,
    new_age_key,
    sops_binary,
    sops_decrypt,
    sops_encrypt,
    sops_env,
    write_sops_config,
)

PASSWORDS = [
    CANARY_PASSWORD,
    'it\'s "quoted"',
    "colon: and space",
    "#starts-with-hash",
    "  leading and trailing spaces  ",
    "ünïcödé-密码-🔑",
    "yes",
    "0777",
    "line one\nline two",
]

NOA = (
    "NOTICE OF ASSIGNMENT: This account has been assigned and must be paid only to\n"
    "RTS Financial Service, Inc., P.O. Box 840267, Dallas, TX 75284-0267.\n"
)


def plain_text(password: str) -> str:
    """A subsidiary-like document using every value type sops knows."""
    quoted = '"' + password.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return f"""# a comment sops keeps
name: Ünïcode Freight “LLC”
mc_number: "100001"
count: 42
negative: -7
octal: 0777
ratio: 0.25
big: 1e20
enabled: true
disabled: false
answer: yes
nothing: null
empty: ""
when: 2024-01-02T03:04:05Z
day: 2024-01-02
notice_of_assignment: |
  {NOA.splitlines()[0]}
  {NOA.splitlines()[1]}
clé ünïcode:
  schlüssel: wert
tags:
  - alpha  # a comment inside a list
  - 2
  - nested: value
factoring:
  ftp:
    host: devftp.rtsfinancial.com
    port: 21
    username: rts-user@example
    password: {quoted}
"""


def expected(password: str) -> dict[str, Any]:
    return {
        "name": "Ünïcode Freight “LLC”",
        "mc_number": "100001",
        "count": 42,
        "negative": -7,
        "octal": 511,
        "ratio": 0.25,
        "big": 1e20,
        "enabled": True,
        "disabled": False,
        "answer": "yes",
        "nothing": None,
        "empty": "",
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        "notice_of_assignment": NOA,
        "clé ünïcode": {"schlüssel": "wert"},
        "tags": ["alpha", 2, {"nested": "value"}],
        "factoring": {
            "ftp": {
                "host": "devftp.rtsfinancial.com",
                "port": 21,
                "username": "rts-user@example",
                "password": password,
            }
        },
    }


SUBSIDIARY_RULE = "credentials-only-mac-only"
RULES = {
    "everything-full-mac": "",
    "credentials-only-mac-only": (
        "    encrypted_regex: ^(username|password)$\n    mac_only_encrypted: true\n"
    ),
    "credentials-only-full-mac": "    encrypted_regex: ^(username|password)$\n",
    "unencrypted-regex": "    unencrypted_regex: ^(name|notice_of_assignment)$\n",
}


def sops_decrypt_with_go_types(file: Path, *keys: AgeKey) -> Any:
    result = subprocess.run(
        [sops_binary(), "decrypt", str(file)], env=sops_env(*keys), check=True, capture_output=True
    )
    return load(result.stdout)


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("rule", sorted(RULES))
def test_files_sops_encrypts_decrypt_to_the_same_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rule: str, password: str
) -> None:
    key = new_age_key(tmp_path / "keys")
    write_sops_config(tmp_path / "repo", f"    age: {key.recipient}\n" + RULES[rule])
    data = sops_encrypt(tmp_path / "repo", "sub.yaml", plain_text(password), key)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.file))

    ours = decrypt_document(tmp_path / "repo/sub.yaml", data)

    assert ours == expected(password)
    assert ours == sops_decrypt_with_go_types(tmp_path / "repo/sub.yaml", key)


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("rule", sorted(RULES))
def test_files_rtssync_encrypts_decrypt_with_sops_to_the_same_values(
    tmp_path: Path, rule: str, password: str
) -> None:
    key = new_age_key(tmp_path / "keys")
    root = tmp_path / "repo"
    write_sops_config(root, f"    age: {key.recipient}\n" + RULES[rule])
    target = root / "sub.yaml"
    plain = expected(password)

    target.write_text(encrypt_document(target, plain, find_creation_rule(root, target)))

    assert sops_decrypt_with_go_types(target, key) == plain
    written = load(target.read_text())
    assert is_encrypted(written["factoring"]["ftp"]["password"])
    assert CANARY_PASSWORD not in target.read_text()


def test_several_recipients_each_decrypt_both_ways(tmp_path: Path) -> None:
    keys = [new_age_key(tmp_path / "keys", f"k{i}") for i in range(3)]
    root = tmp_path / "repo"
    write_sops_config(root, f"    age: {', '.join(k.recipient for k in keys)}\n")
    by_sops = sops_encrypt(root, "a.yaml", plain_text("pw"), keys[0])
    target = root / "b.yaml"
    target.write_text(encrypt_document(target, expected("pw"), find_creation_rule(root, target)))

    assert read_metadata(target.read_text()).recipients == tuple(k.recipient for k in keys)
    for key in keys:
        only_this = find_identities({"SOPS_AGE_KEY": key.secret, "HOME": str(tmp_path)})
        assert decrypt_document(root / "a.yaml", by_sops, identities=only_this) == expected("pw")
        assert sops_decrypt(target, key)["factoring"]["ftp"]["password"] == "pw"


def _key_groups_rule(keys: list[AgeKey], threshold: int) -> str:
    groups = "".join(f"      - age: [{k.recipient}]\n" for k in keys)
    return f"    shamir_threshold: {threshold}\n    key_groups:\n{groups}"


def test_key_groups_with_shamir_threshold_both_ways(tmp_path: Path) -> None:
    keys = [new_age_key(tmp_path / "keys", f"g{i}") for i in range(3)]
    root = tmp_path / "repo"
    (root).mkdir()
    (root / ".sops.yaml").write_text("creation_rules:\n  -\n" + _key_groups_rule(keys, 2))
    by_sops = sops_encrypt(root, "a.yaml", plain_text("shared"), *keys)
    target = root / "b.yaml"
    target.write_text(
        encrypt_document(target, expected("shared"), find_creation_rule(root, target))
    )

    for pair in ([keys[0], keys[1]], [keys[1], keys[2]], [keys[0], keys[2]]):
        ids = find_identities({"SOPS_AGE_KEY": "\n".join(k.secret for k in pair), "HOME": "/x"})
        assert decrypt_document(root / "a.yaml", by_sops, identities=ids) == expected("shared")
        assert sops_decrypt(target, *pair) == sops_decrypt(root / "a.yaml", *pair)
    metadata = read_metadata(target.read_text())
    assert metadata.shamir_threshold == 2
    assert len(metadata.key_groups) == 3


def test_one_key_group_short_of_the_threshold_cannot_decrypt(tmp_path: Path) -> None:
    keys = [new_age_key(tmp_path / "keys", f"g{i}") for i in range(3)]
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".sops.yaml").write_text("creation_rules:\n  -\n" + _key_groups_rule(keys, 2))
    by_sops = sops_encrypt(root, "a.yaml", plain_text("shared"), *keys)
    ids = find_identities({"SOPS_AGE_KEY": keys[1].secret, "HOME": "/x"})

    with pytest.raises(SopsError, match="no age identity can decrypt it"):
        decrypt_document(root / "a.yaml", by_sops, identities=ids)


def test_decrypt_values_gives_only_what_was_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_age_key(tmp_path / "keys")
    write_sops_config(
        tmp_path / "repo", f"    age: {key.recipient}\n" + RULES["credentials-only-mac-only"]
    )
    data = sops_encrypt(tmp_path / "repo", "sub.yaml", plain_text(CANARY_PASSWORD), key)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.file))

    values = decrypt_values(
        tmp_path / "repo/sub.yaml",
        data,
        [("factoring", "ftp", "username"), ("factoring", "ftp", "password"), ("missing",)],
    )

    assert values == {
        ("factoring", "ftp", "username"): "rts-user@example",
        ("factoring", "ftp", "password"): CANARY_PASSWORD,
    }


def test_metadata_is_readable_without_any_key(tmp_path: Path) -> None:
    key = new_age_key(tmp_path / "keys")
    write_sops_config(
        tmp_path / "repo", f"    age: {key.recipient}\n" + RULES["credentials-only-mac-only"]
    )
    data = sops_encrypt(tmp_path / "repo", "sub.yaml", plain_text("pw"), key)

    metadata = read_metadata(data)

    assert metadata.recipients == (key.recipient,)
    assert metadata.encrypted_regex == "^(username|password)$"
    assert metadata.mac_only_encrypted is True
    assert metadata.version == "3.11.0"
    assert dt.datetime.fromisoformat(metadata.lastmodified).tzinfo is not None
