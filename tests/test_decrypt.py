"""decrypt_subsidiary_values: a loaded subsidiary decrypts from the bytes that were validated."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtssync.config import load_settings
from rtssync.decrypt import decrypt_subsidiary_values
from rtssync.desired import DesiredState, load_desired_state
from rtssync.sops import clear_identity_cache
from tests.repo_factory import ConfigRepo, make_config_repo, subsidiary

USERNAME = ("factoring", "ftp", "username")
PASSWORD = ("factoring", "ftp", "password")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         canary_password: str) -> Iterator[ConfigRepo]:
    made = make_config_repo(tmp_path, [subsidiary(1)], password=canary_password)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(made.age_key_file))
    clear_identity_cache()
    yield made
    clear_identity_cache()


def desired_of(repo: ConfigRepo) -> DesiredState:
    return load_desired_state(load_settings(repo.root, repo.settings_file))


def test_credentials_come_from_the_validated_bytes_not_a_later_read(
    repo: ConfigRepo, canary_password: str
) -> None:
    state = desired_of(repo)
    loaded = state.subsidiaries["sub-1"]
    doc = subsidiary(1)
    doc["factoring"]["ftp"]["username"] = "someone-else"
    repo.write_subsidiary("sub-1", doc)  # changed on disk after loading (and validly encrypted)

    values = decrypt_subsidiary_values(loaded, [USERNAME, PASSWORD])

    assert values == {USERNAME: "rts-sub-1", PASSWORD: canary_password}
    assert desired_of(repo).digests != state.digests  # a saved plan's freshness check sees it


def test_the_repr_of_a_loaded_subsidiary_leaves_its_parsed_document_out(
    repo: ConfigRepo,
) -> None:
    loaded = desired_of(repo).subsidiaries["sub-1"]

    assert loaded.parsed is not None
    assert "sops" in loaded.parsed
    assert "lastmodified" not in repr(loaded)


def test_a_subsidiary_without_a_parsed_document_reads_its_file(repo: ConfigRepo) -> None:
    loaded = dataclasses.replace(desired_of(repo).subsidiaries["sub-1"], parsed=None)
    doc = subsidiary(1)
    doc["factoring"]["ftp"]["username"] = "now-on-disk"
    repo.write_subsidiary("sub-1", doc)

    assert decrypt_subsidiary_values(loaded, [USERNAME]) == {USERNAME: "now-on-disk"}
