"""``rtssync init`` as a user runs it: a new repository that validates and plans out of the box,
takes real credentials with ``secrets set``, and keeps its history in words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rtssync.cli import cli
from tests.repo_factory import git_commit_all


def user_env(tmp_path: Path) -> dict[str, str]:
    """The process environment with the sops keys file under tmp_path (never the real home)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    env["HOME"] = str(tmp_path / "home")
    return env


def rtssync(env: dict[str, str], *args: str, stdin: str | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI as a separate process, as a user's shell would."""
    return subprocess.run([sys.executable, "-m", "rtssync", *args], env=env, cwd=cwd,
                          input=stdin, capture_output=True, text=True, check=False)


def test_init_then_validate_succeeds(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    root = tmp_path / "config-repo"

    created = rtssync(env, "init", str(root))
    validated = rtssync(env, "-C", str(root), "validate")

    assert created.returncode == 0, created.stderr
    assert "created config/subsidiaries/example-freight.yaml" in created.stdout
    assert "new age key age1" in created.stdout
    assert validated.returncode == 0, validated.stderr
    assert "1 subsidiary valid" in validated.stdout


def test_init_defaults_to_the_current_directory(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    root = tmp_path / "here"
    root.mkdir()

    created = rtssync(env, "init", cwd=root)

    assert created.returncode == 0, created.stderr
    assert (root / "rtssync.yaml").is_file()


@pytest.mark.skipif("plan" not in cli.commands, reason="rtssync plan is not built yet")
def test_init_then_plan_succeeds_with_no_key_at_all(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    root = tmp_path / "config-repo"
    assert rtssync(env, "init", str(root)).returncode == 0
    no_keys = {**env, "XDG_CONFIG_HOME": str(tmp_path / "elsewhere")}

    planned = rtssync(no_keys, "-C", str(root), "plan")

    assert planned.returncode == 0, planned.stderr
    assert "example-freight" in planned.stdout


def test_init_twice_refuses_and_lists_the_files(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    root = tmp_path / "config-repo"
    assert rtssync(env, "init", str(root)).returncode == 0
    keys = (tmp_path / "xdg" / "sops" / "age" / "keys.txt").read_text()
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}

    again = rtssync(env, "init", str(root))

    assert again.returncode == 1
    assert "refusing to overwrite existing files (nothing was changed)" in again.stderr
    assert "rtssync.yaml" in again.stderr
    assert "Traceback" not in again.stderr
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert (tmp_path / "xdg" / "sops" / "age" / "keys.txt").read_text() == keys


def test_real_credentials_then_history_says_rotated_and_never_shows_them(
    tmp_path: Path, canary_password: str
) -> None:
    env = user_env(tmp_path)
    root = tmp_path / "config-repo"
    assert rtssync(env, "init", str(root)).returncode == 0
    git_commit_all(root, "rtssync init")

    secrets_set = rtssync(env, "-C", str(root), "secrets", "set", "example-freight",
                          "--username", "rts-example-login", "--password-stdin",
                          stdin=canary_password + "\n")
    validated = rtssync(env, "-C", str(root), "validate")
    git_commit_all(root, "Real RTS login for example-freight")
    history = rtssync(env, "-C", str(root), "history", "example-freight")
    history_json = rtssync(env, "-C", str(root), "history", "--format", "json")

    assert secrets_set.returncode == 0, secrets_set.stderr
    assert validated.returncode == 0, validated.stderr
    assert history.returncode == 0, history.stderr
    assert "Real RTS login for example-freight\n" \
           "  example-freight: credentials rotated (username, password)" in history.stdout
    assert "example-freight: file added" in history.stdout
    produced = secrets_set.stdout + secrets_set.stderr + history.stdout + history.stderr \
        + history_json.stdout + history_json.stderr
    assert canary_password not in produced
    assert "rts-example-login" not in produced
    assert "ENC[" not in produced


@pytest.mark.skipif("apply" not in cli.commands, reason="rtssync apply is not built yet")
def test_init_then_apply_converges_on_the_local_tms(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    root = tmp_path / "config-repo"
    assert rtssync(env, "init", str(root)).returncode == 0

    applied = rtssync(env, "-C", str(root), "apply", "--yes")
    again = rtssync(env, "-C", str(root), "plan", "--detailed-exitcode")

    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    assert (root / ".rtssync").is_dir()
    assert ".rtssync/" in (root / ".gitignore").read_text().splitlines()
