"""Tampering: every systematic mutation of an encrypted subsidiary file is detected by decrypt
and by ``rtssync apply``: one clear error naming the file (exit 1, no traceback), and nothing is
applied to the TMS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rtssync.errors import RtssyncError
from rtssync.sops import clear_identity_cache, decrypt_values
from tests.conftest import CANARY_PASSWORD
from tests.e2e.harness import World
from tests.reliability.conftest import Recorder
from tests.reliability.store import rows_by_mc
from tests.reliability.tampering import Mutation, all_mutations
from tests.reliability.worlds import store_path
from tests.repo_factory import ConfigRepo, make_config_repo, subsidiary

CREDENTIALS = [("factoring", "ftp", "username"), ("factoring", "ftp", "password")]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    return make_config_repo(tmp_path_factory.mktemp("tamper"), [subsidiary(1), subsidiary(2)],
                            password=CANARY_PASSWORD, init_git=True)


@pytest.fixture(scope="module")
def mutations(repo: ConfigRepo, tmp_path_factory: pytest.TempPathFactory,
              ) -> list[tuple[str, Mutation]]:
    foreign = make_config_repo(tmp_path_factory.mktemp("foreign"), [subsidiary(1)])
    return all_mutations(repo.path_of("sub-2").read_text(),
                         foreign.path_of("sub-1").read_text())


@pytest.fixture
def keys(repo: ConfigRepo, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.age_key_file))
    clear_identity_cache()
    yield
    clear_identity_cache()


def decrypt_detects(path: Path, text: str) -> bool:
    """Decrypt refuses the file with an error that names it."""
    try:
        decrypt_values(path, text.encode(), CREDENTIALS)
    except RtssyncError as error:
        return str(path) in str(error) or path.name in str(error)
    return False


def test_decrypt_detects_every_mutation(
    repo: ConfigRepo, mutations: list[tuple[str, Mutation]], keys: None, figures: Recorder,
) -> None:
    path = repo.path_of("sub-1")
    original = path.read_text()
    assert decrypt_values(path, original.encode(), CREDENTIALS)  # the untouched file decrypts
    missed = [name for name, mutate in mutations if not decrypt_detects(path, mutate(original))]
    figures(tried=len(mutations), detected=len(mutations) - len(missed), missed=missed)
    assert missed == []


def apply_refuses(world: World, name: str) -> list[str]:
    """Problems with how ``rtssync apply`` handled the tampered sub-1 (empty: all well)."""
    result = world.rtssync("apply", "--yes", keys=True)
    output = result.stdout + result.stderr
    problems = []
    if result.returncode != 1:
        problems.append(f"{name}: exit {result.returncode}")
    if "sub-1.yaml" not in output:
        problems.append(f"{name}: the file is not named: {output[-300:]!r}")
    if "Traceback" in output or "internal error" in output:
        problems.append(f"{name}: not a clear error: {output[-300:]!r}")
    db = store_path(world)
    if db.exists() and rows_by_mc(db):
        problems.append(f"{name}: something was applied")
        for leftover in db.parent.glob(db.name + "*"):
            leftover.unlink()  # start the next mutation from an empty TMS again
    return problems


def test_apply_refuses_every_mutation_and_applies_nothing(
    repo: ConfigRepo, mutations: list[tuple[str, Mutation]], tmp_path: Path, figures: Recorder,
) -> None:
    world = World(tmp_path, repo.copy_to(tmp_path / "repo"), "local", None)
    path = world.repo.path_of("sub-1")
    original = path.read_text()
    problems: list[str] = []
    for name, mutate in mutations:
        path.write_text(mutate(original))
        problems += apply_refuses(world, name)
    path.write_text(original)
    refused = len(mutations) - len({p.split(":")[0] for p in problems})
    figures(tried=len(mutations), refused_cleanly_with_nothing_applied=refused,
            problems=problems)
    assert problems == []
