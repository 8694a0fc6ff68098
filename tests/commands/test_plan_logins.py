"""One RTS login per subsidiary: plan enforces it as soon as it can read the usernames."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.repo_factory import ConfigRepo, make_config_repo, subsidiary


def plan(repo: ConfigRepo, *, keys: bool) -> subprocess.CompletedProcess[str]:
    env = repo.sops_env()
    if not keys:
        env.pop("SOPS_AGE_KEY_FILE")
        env["XDG_CONFIG_HOME"] = str(repo.root / "no-keys-here")
    return subprocess.run(
        [sys.executable, "-m", "rtssync", "-C", str(repo.root), "plan", "--detailed-exitcode"],
        capture_output=True, text=True, env=env, check=False,
    )


def shared_login_repo(tmp_path: Path) -> ConfigRepo:
    first, second = subsidiary(1), subsidiary(2)
    first["factoring"]["ftp"]["username"] = "shared-login"
    second["factoring"]["ftp"]["username"] = "shared-login"
    return make_config_repo(tmp_path, [first, second])


def test_with_keys_a_reused_login_stops_the_plan_naming_both_files(tmp_path: Path) -> None:
    repo = shared_login_repo(tmp_path)

    result = plan(repo, keys=True)

    assert result.returncode == 1
    assert "the same RTS FTP username" in result.stderr
    assert "config/subsidiaries/sub-1.yaml" in result.stderr
    assert "config/subsidiaries/sub-2.yaml" in result.stderr
    assert "shared-login" not in result.stdout + result.stderr  # never printed
    assert "Traceback" not in result.stderr


def test_without_keys_the_plan_cannot_see_it_and_still_runs(tmp_path: Path) -> None:
    repo = shared_login_repo(tmp_path)

    result = plan(repo, keys=False)

    assert result.returncode == 2, result.stderr  # creates to show, no error


def test_distinct_logins_plan_normally_with_keys(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1), subsidiary(2)])

    assert plan(repo, keys=True).returncode == 2
