"""Every SOPS test starts with no age identities in reach but the ones it hands out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rtssync.sops import clear_identity_cache


@pytest.fixture(autouse=True)
def isolated_age_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    clear_identity_cache()
    yield
    clear_identity_cache()
