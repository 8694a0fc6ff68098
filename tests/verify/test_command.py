"""``rtssync verify`` end to end: a real config repository (sops-encrypted by the sops binary),
real loopback servers, the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rtssync.cli import cli
from rtssync.sops import clear_identity_cache
from tests.conftest import CANARY_PASSWORD
from tests.repo_factory import ConfigRepo, default_settings, generate_age_key, make_config_repo
from tests.repo_factory import subsidiary as subsidiary_doc
from tests.verify.conftest import USERS
from tests.verify.servers import DIRECTORY, FtpServer, HostKey, Pki, SftpServer


def _doc(n: int, key: str, server: Any, protocol: str, username: str, **ftp: Any) -> dict[str, Any]:
    doc = subsidiary_doc(n, key=key)
    doc["factoring"]["ftp"].update(
        protocol=protocol,
        host="127.0.0.1",
        port=server.port,
        directory=DIRECTORY,
        username=username,
        password=USERS.get(username, "x"),
        **ftp,
    )
    return doc


@pytest.fixture(scope="module")
def repo(
    tmp_path_factory: pytest.TempPathFactory,
    ftp_server: FtpServer,
    ftps_server: FtpServer,
    sftp_server: SftpServer,
    ed25519_key: HostKey,
) -> ConfigRepo:
    pinned = " ".join(ed25519_key.public_line.split()[:2])
    wrong = _doc(4, "wrong-password", ftp_server, "ftp", "colons")
    wrong["factoring"]["ftp"]["password"] = "not the password"
    settings = default_settings()
    settings["policy"] = {"allowed_hosts": ["127.0.0.1"]}
    return make_config_repo(
        tmp_path_factory.mktemp("verify-repo"),
        [
            _doc(1, "alpha-ftp", ftp_server, "ftp", "canary"),
            _doc(2, "bravo-sftp", sftp_server, "sftp", "quotes", host_key=pinned),
            _doc(3, "charlie-ftps", ftps_server, "ftps", "unicode"),
            wrong,
            _doc(5, "echo-spaces", ftp_server, "ftp", "spaces"),
        ],
        settings=settings,
    )


@pytest.fixture(autouse=True)
def _fresh_identities() -> Iterator[None]:
    clear_identity_cache()
    yield
    clear_identity_cache()


def verify(repo: ConfigRepo, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["-C", str(repo.root), "verify", *args], env=env or repo.sops_env()
    )


def test_named_good_logins_pass_with_exit_0(repo: ConfigRepo, pki: Pki) -> None:
    result = verify(repo, "alpha-ftp", "bravo-sftp", "charlie-ftps", "--ca-bundle",
                    str(pki.ca_bundle), "--timeout", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SUBSIDIARY", "PROTOCOL", "HOST", "RESULT", "TIME"]
    assert lines[1].split()[:4] == ["alpha-ftp", "ftp", f"127.0.0.1:{_port(repo, 'alpha-ftp')}",
                                    "ok"]
    assert lines[2].split()[:4] == ["bravo-sftp", "sftp",
                                    f"127.0.0.1:{_port(repo, 'bravo-sftp')}", "ok"]
    assert lines[3].split()[3] == "ok"
    assert "alpha-ftp: warning: plain FTP: the password crossed the network unencrypted" in (
        result.stdout
    )
    assert lines[-1] == "3 of 3 logins verified"


def test_one_failure_fails_the_run_and_says_why(repo: ConfigRepo) -> None:
    result = verify(repo, "alpha-ftp", "wrong-password", "--timeout", "3")
    assert result.exit_code == 1
    assert f"wrong-password: login refused by 127.0.0.1:{_port(repo, 'wrong-password')} (530" in (
        result.stdout
    )
    assert result.stdout.splitlines()[-1] == "1 of 2 logins verified"
    assert "Traceback" not in result.output


def test_json_output_is_one_document_per_run(repo: ConfigRepo) -> None:
    result = verify(repo, "alpha-ftp", "wrong-password", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    rows = {row["key"]: row for row in report["subsidiaries"]}
    assert list(rows) == ["alpha-ftp", "wrong-password"]
    assert rows["alpha-ftp"]["status"] == "ok"
    assert rows["alpha-ftp"]["protocol"] == "ftp"
    assert rows["alpha-ftp"]["warnings"] == [
        "plain FTP: the password crossed the network unencrypted; ask RTS for FTPS or SFTP"
    ]
    assert rows["wrong-password"]["status"] == "failed"
    assert isinstance(rows["wrong-password"]["seconds"], float)


def test_ftps_without_the_ca_fails_and_the_loud_skip_passes(repo: ConfigRepo) -> None:
    strict = verify(repo, "charlie-ftps")
    assert strict.exit_code == 1
    assert "charlie-ftps: TLS certificate of 127.0.0.1:" in strict.stdout
    loose = verify(repo, "charlie-ftps", "--insecure-skip-tls-verify")
    assert loose.exit_code == 0
    assert loose.stderr.startswith("WARNING: --insecure-skip-tls-verify")
    assert "charlie-ftps: warning: TLS certificate verification was OFF" in loose.stdout


def test_a_host_outside_policy_is_refused(repo: ConfigRepo, tmp_path: Path) -> None:
    copy = repo.copy_to(tmp_path / "copy")
    settings = default_settings()
    settings["policy"] = {"allowed_hosts": ["*.rtsfinancial.com"]}
    copy.settings_file.write_text(json.dumps(settings))
    result = verify(copy, "alpha-ftp")
    assert result.exit_code == 1
    assert "alpha-ftp: host '127.0.0.1' is not allowed by policy.allowed_hosts" in result.stdout


def test_without_the_key_each_row_says_it_cannot_decrypt(
    repo: ConfigRepo, tmp_path: Path
) -> None:
    env = repo.sops_env()
    env["SOPS_AGE_KEY_FILE"] = str(generate_age_key(tmp_path / "other.txt").path)
    env["HOME"] = env["XDG_CONFIG_HOME"] = str(tmp_path)
    result = verify(repo, "alpha-ftp", env=env)
    assert result.exit_code == 1
    assert "alpha-ftp: cannot decrypt the credentials: " in result.stdout
    assert "Traceback" not in result.output


def test_an_unknown_key_is_one_error_line(repo: ConfigRepo) -> None:
    result = verify(repo, "alpha-ftp", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no subsidiary file for nope (known: alpha-ftp, ")


def test_the_canary_is_in_no_output(repo: ConfigRepo, pki: Pki) -> None:
    runs = [
        verify(repo),
        verify(repo, "--format", "json", "--write-probe", "--ca-bundle", str(pki.ca_bundle)),
        verify(repo, "alpha-ftp", "--insecure-skip-tls-verify"),
    ]
    for result in runs:
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert CANARY_PASSWORD not in result.stdout + result.stderr
    assert "alpha-ftp" in runs[0].stdout


def test_a_terminal_gets_a_rich_table_and_no_color_is_honoured(repo: ConfigRepo) -> None:
    colored = _run_in_terminal(repo, no_color=False)
    plain = _run_in_terminal(repo, no_color=True)
    assert "\x1b[" in colored
    assert "\x1b[" not in plain
    assert "alpha-ftp" in plain
    assert "1 of 1 logins verified" in plain
    assert CANARY_PASSWORD not in colored + plain


def _run_in_terminal(repo: ConfigRepo, *, no_color: bool) -> str:
    env = repo.sops_env()
    env.pop("NO_COLOR", None)
    env.update(TERM="xterm-256color", COLUMNS="160")
    if no_color:
        env["NO_COLOR"] = "1"
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "rtssync", "-C", str(repo.root), "verify", "alpha-ftp"],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
    )
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait(30)
    os.close(leader)
    assert process.returncode == 0, output.decode(errors="replace")
    return output.decode(errors="replace")


def _port(repo: ConfigRepo, key: str) -> int:
    text = repo.path_of(key).read_text()
    line = next(line for line in text.splitlines() if line.strip().startswith("port:"))
    return int(line.split(":")[1])


def test_two_subsidiaries_sharing_one_login_fail_without_naming_it(
    tmp_path: Path, ftp_server: FtpServer
) -> None:
    settings = default_settings()
    settings["policy"] = {"allowed_hosts": ["127.0.0.1"]}
    shared = make_config_repo(
        tmp_path,
        [_doc(1, "one", ftp_server, "ftp", "canary"), _doc(2, "two", ftp_server, "ftp", "canary")],
        settings=settings,
    )
    result = verify(shared)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "2 of 2 logins verified"
    assert "the same RTS FTP username as config/subsidiaries/one.yaml" in result.stderr
    assert "two.yaml" in result.stderr
    assert "canary" not in result.stderr
