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


def test_init_git_commits_the_repository(tmp_path: Path) -> None:
    import subprocess

    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)

    tracked = subprocess.run(["git", "ls-files"], cwd=repo.root, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked == [".sops.yaml", "config/subsidiaries/sub-1.yaml", "rtssync.yaml"]


def test_copy_to_gives_an_independent_repository_with_the_same_key(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path / "a", [subsidiary(1)])

    copy = repo.copy_to(tmp_path / "b")
    copy.path_of("sub-1").write_text("changed")

    assert copy.root == tmp_path / "b"
    assert copy.settings_file == tmp_path / "b" / "rtssync.yaml"
    assert repo.path_of("sub-1").read_text() != "changed"
    assert copy.age_key_file == repo.age_key_file
