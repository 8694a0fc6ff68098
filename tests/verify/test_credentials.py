"""verify's credential source: the login from the subsidiary's SOPS file, as validated."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtssync.config import load_settings
from rtssync.desired import load_desired_state
from rtssync.errors import RtssyncError
from rtssync.model import DesiredSubsidiary
from rtssync.sops import clear_identity_cache
from rtssync.verify.credentials import sops_credentials
from tests.repo_factory import make_config_repo, subsidiary


@pytest.fixture
def loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           canary_password: str) -> Iterator[DesiredSubsidiary]:
    repo = make_config_repo(tmp_path, [subsidiary(1)], password=canary_password)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.age_key_file))
    clear_identity_cache()
    desired = load_desired_state(load_settings(repo.root, repo.settings_file))
    yield desired.subsidiaries["sub-1"]
    clear_identity_cache()


def test_the_login_decrypts_from_what_validation_read(
    loaded: DesiredSubsidiary, canary_password: str
) -> None:
    loaded.source.unlink()  # read once, by validation

    login = sops_credentials()(loaded)

    assert login.username == "rts-sub-1"
    assert login.password.reveal() == canary_password


def test_a_file_that_cannot_be_read_is_one_message(loaded: DesiredSubsidiary) -> None:
    unparsed = dataclasses.replace(loaded, parsed=None)
    loaded.source.unlink()

    with pytest.raises(RtssyncError, match=r"cannot read .*sub-1\.yaml"):
        sops_credentials()(unparsed)
