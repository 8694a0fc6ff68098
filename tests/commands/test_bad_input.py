"""Bad input that is not in the config files: a missing folder, a busy port, a file where a
folder belongs, a plan file that is not a plan. Each is one ``error:`` line on stderr that
names the path and says what to do, exit 1; never a traceback or an "internal error".

Every case runs the real CLI in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.repo_factory import ConfigRepo, make_config_repo


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    return make_config_repo(tmp_path_factory.mktemp("template"), init_git=True)


@pytest.fixture
def repo(template: ConfigRepo, tmp_path: Path) -> ConfigRepo:
    return template.copy_to(tmp_path / "repo")


def rtssync(
    directory: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtssync", "-C", str(directory), *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout,
        check=False,
    )


def the_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``error:`` line, after checking it is all stderr holds and the exit is 1."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_plan_out_into_a_missing_folder_names_the_file(repo: ConfigRepo) -> None:
    result = rtssync(repo.root, "plan", "--out", "missing-dir/plan.json", env=repo.sops_env())
    line = the_error(result)
    assert f"{repo.root / 'missing-dir' / 'plan.json'}: cannot write the plan" in line
    assert "No such file or directory" in line
    assert result.stdout == ""  # no plan shown as if it had been saved


def test_a_saved_plan_that_is_not_a_plan_names_the_file(repo: ConfigRepo) -> None:
    (repo.root / "empty.json").write_text("{}")
    line = the_error(rtssync(repo.root, "apply", "empty.json", env=repo.sops_env()))
    assert f"{repo.root / 'empty.json'}: not an rtssync plan file" in line


def test_state_folder_that_is_a_file_is_one_error_for_apply(repo: ConfigRepo) -> None:
    (repo.root / ".rtssync").write_text("not a folder")
    line = the_error(rtssync(repo.root, "apply", "--yes", env=repo.sops_env()))
    assert f"{repo.root / '.rtssync'}" in line
    assert "must be a directory" in line or "is not a directory" in line


@pytest.mark.parametrize("command", ["plan", "status"])
def test_state_folder_that_is_a_file_says_it_is_not_a_directory(
    repo: ConfigRepo, command: str
) -> None:
    (repo.root / ".rtssync").write_text("not a folder")
    line = the_error(rtssync(repo.root, command, env=repo.sops_env()))
    assert f"{repo.root / '.rtssync'} is not a directory" in line


def test_missing_directory_for_dash_c_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    line = the_error(rtssync(missing, "validate"))
    assert line.startswith(
        f"error: {missing}: does not exist; -C DIR must name the config repository folder"
    )
    assert "rtssync.yaml" not in line


def test_dash_c_naming_a_file_is_named(tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    line = the_error(rtssync(a_file, "plan"))
    assert line.startswith(f"error: {a_file}: is not a directory")


def test_history_with_a_missing_config_file_says_so(repo: ConfigRepo) -> None:
    line = the_error(rtssync(repo.root, "--config", "missing.yaml", "history"))
    assert f"{repo.root / 'missing.yaml'}: settings file not found" in line


def test_history_without_rtssync_yaml_still_reads_git(repo: ConfigRepo) -> None:
    (repo.root / "rtssync.yaml").unlink()
    result = rtssync(repo.root, "history")
    assert result.returncode == 0, result.stderr
    assert "sub-1" in result.stdout


@pytest.fixture
def busy_port() -> Iterator[int]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


TMS_ENV = {"RTSSYNC_TMS_CLIENT_ID": "client", "RTSSYNC_TMS_CLIENT_SECRET": "client-secret"}


def test_tms_serve_on_a_busy_port_is_one_error(tmp_path: Path, busy_port: int) -> None:
    result = rtssync(tmp_path, "tms", "serve", "--port", str(busy_port), env=TMS_ENV, timeout=30)
    line = the_error(result)
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{busy_port}: ")
    assert "in use" in line


def test_tms_serve_on_an_unknown_host_is_one_error(tmp_path: Path) -> None:
    result = rtssync(tmp_path, "tms", "serve", "--host", "no-such-host.invalid", "--port", "0",
                     env=TMS_ENV, timeout=30)
    assert the_error(result).startswith("error: cannot listen on no-such-host.invalid:0: ")


def test_bad_yaml_in_sops_yaml_is_one_located_line(repo: ConfigRepo) -> None:
    (repo.root / ".sops.yaml").write_text("creation_rules:\n  - path_regex: x\n   age: [\n")
    line = the_error(rtssync(repo.root, "plan", env=repo.sops_env()))
    assert line.startswith("error: .sops.yaml:3:4: invalid YAML: ")
    assert "check the indentation" in line
    assert "\\n" not in line
