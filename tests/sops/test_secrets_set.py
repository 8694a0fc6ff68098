"""`rtssync secrets set`: encrypted credentials in, plaintext nowhere, the rest of the file kept."""

from __future__ import annotations

import base64
import os
import pty
import select
import stat
import subprocess
import sys
import termios
import time
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rtssync.cli import cli
from rtssync.sops import decrypt_document, find_identities, read_metadata
from tests.conftest import CANARY_PASSWORD
from tests.repo_factory import ConfigRepo, make_config_repo, subsidiary


def canary_forms() -> list[str]:
    raw = CANARY_PASSWORD.encode()
    return [
        CANARY_PASSWORD,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        urllib.parse.quote(CANARY_PASSWORD),
        urllib.parse.quote_plus(CANARY_PASSWORD),
    ]


def assert_no_canary(*texts: str) -> None:
    for text in texts:
        for form in canary_forms():
            assert form not in text


def assert_no_canary_in_directory(directory: Path) -> None:
    for file in directory.rglob("*"):
        if file.is_file():
            assert_no_canary(file.read_bytes().decode("utf-8", errors="replace"))


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path, [subsidiary(1), subsidiary(2)], password=None)


def run_set(repo: ConfigRepo, key: str, stdin: str, username: str = "new-user") -> Result:
    runner = CliRunner()
    args = ["-C", str(repo.root), "secrets", "set", key, "--username", username, "--password-stdin"]
    return runner.invoke(cli, args, input=stdin)


def test_sets_credentials_without_any_private_key(repo: ConfigRepo) -> None:
    before = repo.path_of("sub-1").read_text()
    result = run_set(repo, "sub-1", CANARY_PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    after = repo.path_of("sub-1").read_text()
    assert_no_canary(result.output, after)
    assert_no_canary_in_directory(repo.root)
    ftp = repo.sops_decrypt("sub-1")["factoring"]["ftp"]
    assert ftp["username"] == "new-user"
    assert ftp["password"] == CANARY_PASSWORD
    assert unchanged_lines(before) == unchanged_lines(after)


def unchanged_lines(text: str) -> list[str]:
    """Everything but the credential lines and the sops block."""
    body = text.split("\nsops:\n")[0]
    return [
        line
        for line in body.splitlines()
        if not line.strip().startswith(("username:", "password:"))
    ]


def test_keeps_comments_order_quotes_and_the_noa_block(repo: ConfigRepo) -> None:
    path = repo.path_of("sub-1")
    text = path.read_text().replace("name: ", "# the legal name\nname: ", 1)
    text = text.replace("port: 21", "port: 21 # RTS default")
    path.write_text(text)
    path.chmod(0o640)

    assert run_set(repo, "sub-1", "pw\n").exit_code == 0

    after = path.read_text()
    assert "# the legal name\nname: Subsidiary 1 LLC" in after
    assert "port: 21 # RTS default" in after
    assert 'mc_number: "100001"' in after
    assert "notice_of_assignment: |\n    NOTICE OF ASSIGNMENT" in after
    assert after.startswith("# yaml-language-server: $schema=")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert list(path.parent.glob(".*.tmp")) == []


def test_follows_the_creation_rule(repo: ConfigRepo) -> None:
    assert run_set(repo, "sub-2", "pw\n").exit_code == 0
    metadata = read_metadata(repo.path_of("sub-2").read_bytes())
    assert metadata.recipients == (repo.age_public_key,)
    assert metadata.encrypted_regex == "^(username|password)$"
    assert metadata.mac_only_encrypted is True
    assert metadata.version == "3.11.0"


def test_strips_exactly_one_trailing_newline(repo: ConfigRepo) -> None:
    assert run_set(repo, "sub-1", "pw with spaces  \n\n").exit_code == 0
    assert repo.sops_decrypt("sub-1")["factoring"]["ftp"]["password"] == "pw with spaces  \n"


def test_works_in_a_real_process_with_the_canary(repo: ConfigRepo, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["HOME"] = str(tmp_path / "nobody")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rtssync",
            "-C",
            str(repo.root),
            "secrets",
            "set",
            "sub-1",
            "--username",
            "proc-user",
            "--password-stdin",
        ],
        input=(CANARY_PASSWORD + "\n").encode(),
        capture_output=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert_no_canary(result.stdout.decode(), result.stderr.decode())
    assert_no_canary_in_directory(repo.root)
    assert repo.sops_decrypt("sub-1")["factoring"]["ftp"]["password"] == CANARY_PASSWORD


def test_other_encrypted_values_need_the_key_and_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)])  # already has an encrypted password
    path = repo.path_of("sub-1")
    text = path.read_text()
    (repo.root / ".sops.yaml").write_text(
        (repo.root / ".sops.yaml")
        .read_text()
        .replace("username|password", "username|password|token")
    )
    # Re-encrypt with a token so the file holds an encrypted value set will not replace.
    plain = repo.sops_decrypt("sub-1")
    plain["factoring"]["token"] = "keep-me"
    repo.write_subsidiary("sub-1", plain)
    token_before = [line for line in path.read_text().splitlines() if "token:" in line]
    assert text != path.read_text()

    denied = run_set(repo, "sub-1", "pw\n")
    assert denied.exit_code == 1
    assert "no age identity can decrypt it" in denied.output
    assert repo.age_public_key in denied.output

    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.age_key_file))
    assert run_set(repo, "sub-1", "new-pw\n").exit_code == 0
    assert [line for line in path.read_text().splitlines() if "token:" in line] == token_before
    decrypted = repo.sops_decrypt("sub-1")
    assert decrypted["factoring"]["token"] == "keep-me"
    assert decrypted["factoring"]["ftp"]["password"] == "new-pw"
    ids = find_identities()
    assert decrypt_document(path, path.read_bytes(), identities=ids) == decrypted


@pytest.mark.parametrize(
    ("key", "stdin", "message"),
    [
        ("nope", "pw\n", "no such subsidiary file"),
        ("../etc", "pw\n", "is not a subsidiary key"),
        ("sub-1", "\n", "the password on stdin is empty"),
        ("sub-1", "", "the password on stdin is empty"),
    ],
)
def test_user_mistakes_are_one_clear_message(
    repo: ConfigRepo, key: str, stdin: str, message: str
) -> None:
    result = run_set(repo, key, stdin)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_without_a_matching_rule_the_file_is_untouched(repo: ConfigRepo) -> None:
    (repo.root / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: ^elsewhere/\n    age: x\n"
    )
    before = repo.path_of("sub-1").read_text()
    result = run_set(repo, "sub-1", "pw\n")
    assert result.exit_code == 1
    assert "no creation rule matches 'config/subsidiaries/sub-1.yaml'" in result.output
    assert repo.path_of("sub-1").read_text() == before


def test_the_password_is_only_accepted_on_stdin(repo: ConfigRepo) -> None:
    result = CliRunner().invoke(
        cli, ["-C", str(repo.root), "secrets", "set", "sub-1", "--username", "u"], input="pw\n"
    )
    assert result.exit_code == 2
    assert "--password-stdin" in result.output


def test_a_file_never_encrypted_gets_its_first_sops_block(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], password=None, encrypt=False)
    assert "sops:" not in repo.path_of("sub-1").read_text()

    assert run_set(repo, "sub-1", CANARY_PASSWORD + "\n").exit_code == 0

    assert_no_canary(repo.path_of("sub-1").read_text())
    assert repo.sops_decrypt("sub-1")["factoring"]["ftp"] | {"host": "-"} == {
        "protocol": "ftp",
        "host": "-",
        "port": 21,
        "directory": "/incoming",
        "host_key": None,
        "username": "new-user",
        "password": CANARY_PASSWORD,
    }


def test_config_dir_comes_from_the_settings(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], password=None)
    moved = repo.root / "subs"
    repo.subsidiaries_dir.rename(moved)
    repo.settings_file.write_text("config_dir: subs\n")
    (repo.root / ".sops.yaml").write_text(
        (repo.root / ".sops.yaml").read_text().replace("^config/subsidiaries/", "^subs/")
    )

    assert run_set(repo, "sub-1", "pw\n").exit_code == 0
    assert "password: ENC[AES256_GCM," in (moved / "sub-1.yaml").read_text()


def test_a_file_without_an_ftp_block_is_refused(repo: ConfigRepo) -> None:
    path = repo.path_of("sub-1")
    path.write_text("name: No Factoring LLC\n")
    result = run_set(repo, "sub-1", "pw\n")
    assert result.exit_code == 1
    assert f"{path}: has no `factoring.ftp` mapping to write into" in result.output
    assert path.read_text() == "name: No Factoring LLC\n"


def test_with_a_full_mac_rule_sops_still_accepts_the_file(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], password=None)
    sops_config = repo.root / ".sops.yaml"
    sops_config.write_text(sops_config.read_text().replace("mac_only_encrypted: true", ""))

    assert run_set(repo, "sub-1", "pw\n").exit_code == 0

    assert read_metadata(repo.path_of("sub-1").read_bytes()).mac_only_encrypted is False
    assert repo.sops_decrypt("sub-1")["notice_of_assignment"].startswith("NOTICE OF ASSIGNMENT")


def test_at_a_terminal_the_password_is_typed_without_echo(repo: ConfigRepo, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["HOME"] = str(tmp_path / "nobody")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtssync",
            "-C",
            str(repo.root),
            "secrets",
            "set",
            "sub-1",
            "--username",
            "tty-user",
            "--password-stdin",
        ],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    os.close(terminal)
    _wait_until_echo_is_off(controller)
    os.write(controller, (CANARY_PASSWORD + "\n").encode())
    stdout, stderr = process.communicate(timeout=60)
    echoed = _drain(controller)
    os.close(controller)

    assert process.returncode == 0, stderr
    assert_no_canary(stdout.decode(), stderr.decode(), echoed)
    assert repo.sops_decrypt("sub-1")["factoring"]["ftp"]["password"] == CANARY_PASSWORD


def _wait_until_echo_is_off(fd: int) -> None:
    """The prompt turns echo off (and flushes input) first; type only after that."""
    deadline = time.monotonic() + 30
    while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < deadline:
        time.sleep(0.05)


def _drain(fd: int) -> str:
    """What the terminal showed (echo included); EIO means the other side is gone."""
    shown = b""
    while select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    return shown.decode(errors="replace")


def test_windows_line_endings_are_kept(repo: ConfigRepo) -> None:
    path = repo.path_of("sub-1")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    before = path.read_bytes().split(b"\r\n")

    assert run_set(repo, "sub-1", "pw\n").exit_code == 0

    after = path.read_bytes()
    assert b"\n" not in after.replace(b"\r\n", b"")
    assert after.split(b"\r\n")[:8] == before[:8]
    assert repo.sops_decrypt("sub-1")["factoring"]["ftp"]["password"] == "pw"
