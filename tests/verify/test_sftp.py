"""SFTP: only the pinned host key is trusted; the password is sent only after it matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtssync.model import FtpProtocol
from rtssync.verify.sftp import PROBE_PREFIX
from tests.verify.conftest import USERS, login, run, target
from tests.verify.servers import (
    DIRECTORY,
    FtpServer,
    HostKey,
    SftpServer,
    SilentServer,
    make_ed25519_host_key,
    make_rsa_host_key,
    running,
)

SFTP = FtpProtocol.SFTP


@pytest.mark.parametrize("username", sorted(USERS))
def test_a_good_login_passes_with_any_password_characters(
    sftp_server: SftpServer, ed25519_key: HostKey, username: str
) -> None:
    result = run(target(sftp_server, SFTP, host_key=ed25519_key.public_line), login(username))
    assert result.ok, result.reason
    assert result.reason == f"logged in and listed {DIRECTORY}"
    assert result.warnings == ()


def test_an_ecdsa_host_key_can_be_pinned(ecdsa_sftp: tuple[SftpServer, HostKey]) -> None:
    server, key = ecdsa_sftp
    assert key.public_line.startswith("ecdsa-sha2-nistp256 AAAA")
    result = run(target(server, SFTP, host_key=key.public_line))
    assert result.ok, result.reason


def test_write_probe_uploads_and_deletes_one_file(
    sftp_server: SftpServer, ed25519_key: HostKey, sftp_home: Path
) -> None:
    result = run(target(sftp_server, SFTP, host_key=ed25519_key.public_line), write_probe=True)
    assert result.ok, result.reason
    assert not [p for p in (sftp_home / "incoming").iterdir() if p.name.startswith(PROBE_PREFIX)]


def test_a_missing_host_key_is_refused_without_connecting(
    fresh_sftp_server: SftpServer,
) -> None:
    result = run(target(fresh_sftp_server, SFTP, host_key=None))
    assert not result.ok
    assert result.reason.startswith("factoring.ftp.host_key is missing")
    assert result.reason.endswith("refusing to connect without it")
    assert fresh_sftp_server.connections == 0


@pytest.mark.parametrize("line", ["ssh-ed25519", "ssh-ed25519 not-base64!", "ssh-dss AAAAB3Nz"])
def test_a_malformed_host_key_is_refused_without_connecting(
    fresh_sftp_server: SftpServer, line: str
) -> None:
    result = run(target(fresh_sftp_server, SFTP, host_key=line))
    assert result.reason.startswith("factoring.ftp.host_key is not an OpenSSH public key line")
    assert fresh_sftp_server.connections == 0


def test_a_different_host_key_is_refused_showing_both_fingerprints(
    sftp_server: SftpServer, ed25519_key: HostKey
) -> None:
    impostor_pin = make_ed25519_host_key()
    result = run(target(sftp_server, SFTP, host_key=impostor_pin.public_line))
    assert not result.ok
    expected = impostor_pin.private.fingerprint
    received = ed25519_key.private.fingerprint
    assert expected.startswith("SHA256:")
    assert result.reason == (
        f"host key mismatch for 127.0.0.1:{sftp_server.port}: expected ssh-ed25519 {expected} "
        f"(factoring.ftp.host_key), received ssh-ed25519 {received}; refusing to log in: "
        "confirm the new key with RTS before changing host_key"
    )


def test_a_server_without_the_pinned_key_type_is_refused(
    sftp_server: SftpServer, ecdsa_sftp: tuple[SftpServer, HostKey]
) -> None:
    _, ecdsa_key = ecdsa_sftp
    result = run(target(sftp_server, SFTP, host_key=ecdsa_key.public_line))
    assert not result.ok
    assert result.reason.startswith(
        f"127.0.0.1:{sftp_server.port} offers no ecdsa-sha2-nistp256 host key"
    )


def test_a_wrong_password_is_a_refused_login(sftp_server: SftpServer, ed25519_key: HostKey) -> None:
    settings = target(sftp_server, SFTP, host_key=ed25519_key.public_line)
    result = run(settings, login("canary", "wrong"))
    assert result.reason == (
        f"login refused by 127.0.0.1:{sftp_server.port}: check the username and password"
    )


def test_a_missing_directory_is_named(sftp_server: SftpServer, ed25519_key: HostKey) -> None:
    settings = target(sftp_server, SFTP, directory="/nope", host_key=ed25519_key.public_line)
    result = run(settings)
    assert result.reason == (
        f"directory '/nope' does not exist on 127.0.0.1:{sftp_server.port}: "
        "check factoring.ftp.directory"
    )


def test_an_ftp_server_is_named_as_such(ftp_server: FtpServer, ed25519_key: HostKey) -> None:
    result = run(target(ftp_server, SFTP, host_key=ed25519_key.public_line))
    assert result.reason == (
        f"127.0.0.1:{ftp_server.port} is an FTP server (it greeted with "
        "'220 rtssync test FTP server ready.'), not SFTP: set protocol: ftp or ftps"
    )


def test_a_server_that_says_nothing_times_out(
    silent_server: SilentServer, ed25519_key: HostKey
) -> None:
    result = run(target(silent_server, SFTP, host_key=ed25519_key.public_line), timeout=1)
    assert result.reason == (
        f"timed out after 1 s while waiting for the server's greeting on 127.0.0.1:"
        f"{silent_server.port}: the server accepted the connection but did not answer"
    )
    assert result.seconds < 3


def test_an_rsa_host_key_can_be_pinned(tmp_path: Path) -> None:
    key = make_rsa_host_key()
    with running(SftpServer(tmp_path, USERS, key.private)) as server:
        result = run(target(server, SFTP, host_key=key.public_line))
    assert result.ok, result.reason


def test_a_server_without_password_logins_says_what_it_allows(
    tmp_path: Path, ed25519_key: HostKey
) -> None:
    with running(SftpServer(tmp_path, USERS, ed25519_key.private, auths="publickey")) as server:
        result = run(target(server, SFTP, host_key=ed25519_key.public_line))
    assert result.reason == (
        f"127.0.0.1:{server.port} does not accept password logins (it allows: publickey)"
    )


def test_a_login_that_gets_no_answer_is_a_timeout_not_a_refusal(
    tmp_path: Path, ed25519_key: HostKey
) -> None:
    with running(SftpServer(tmp_path, USERS, ed25519_key.private, auth_delay=2)) as server:
        result = run(target(server, SFTP, host_key=ed25519_key.public_line), timeout=1)
    assert result.reason == (
        f"timed out after 1 s while logging in on 127.0.0.1:{server.port}: "
        "the server accepted the connection but did not answer"
    )
