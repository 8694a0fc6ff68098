"""The shared test repo factory writes what a user would have: real sops files that decrypt."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.repo_factory import DEFAULT_PASSWORD, make_config_repo, subsidiary


def test_default_repo_has_three_encrypted_subsidiaries_that_sops_decrypts(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path)

    assert repo.keys == ("sub-1", "sub-2", "sub-3")
    raw = yaml.safe_load(repo.path_of("sub-1").read_text())
    assert raw["factoring"]["ftp"]["password"].startswith("ENC[AES256_GCM,")
    assert raw["sops"]["encrypted_regex"] == "^(username|password)$"
    assert raw["sops"]["mac_only_encrypted"] is True
    plain = repo.sops_decrypt("sub-1")
    assert plain["factoring"]["ftp"]["password"] == DEFAULT_PASSWORD
    assert plain["factoring"]["ftp"]["username"] == "rts-sub-1"


def test_custom_keys_password_none_and_plaintext(tmp_path: Path) -> None:
    repo = make_config_repo(
        tmp_path, [subsidiary(7, key="alpha")], password=None, encrypt=False
    )

    raw = yaml.safe_load(repo.path_of("alpha").read_text())
    assert repo.relpath_of("alpha") == "config/subsidiaries/alpha.yaml"
    assert "password" not in raw["factoring"]["ftp"]
    assert raw["factoring"]["ftp"]["username"] == "rts-sub-7"
    assert "sops" not in raw
