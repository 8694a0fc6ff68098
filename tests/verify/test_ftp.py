"""Plain FTP: log in, change into the folder, list it; every failure one actionable line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rtssync.model import FtpProtocol
from rtssync.verify.ftp import PLAIN_FTP_WARNING, PROBE_PREFIX
from tests.verify.conftest import USERS, login, run, target
from tests.verify.servers import (
    DIRECTORY,
    CountingServer,
    FtpServer,
    SftpServer,
    SilentServer,
    running,
    unused_port,
)

FTP = FtpProtocol.FTP


@pytest.mark.parametrize("username", sorted(USERS))
def test_a_good_login_passes_with_any_password_characters(
    ftp_server: FtpServer, username: str
) -> None:
    result = run(target(ftp_server, FTP), login(username))
    assert result.ok, result.reason
    assert result.reason == f"logged in and listed {DIRECTORY}"
    assert (result.protocol, result.host, result.port) == (FTP, "127.0.0.1", ftp_server.port)
    assert 0 < result.seconds < 5


def test_plain_ftp_warns_that_the_password_went_in_clear(ftp_server: FtpServer) -> None:
    result = run(target(ftp_server, FTP))
    assert result.ok
    assert result.warnings == (PLAIN_FTP_WARNING,)
    assert "unencrypted" in PLAIN_FTP_WARNING


def test_a_wrong_password_is_a_refused_login(ftp_server: FtpServer) -> None:
    result = run(target(ftp_server, FTP), login("canary", "not the password"))
    assert not result.ok
    assert result.reason.startswith(f"login refused by 127.0.0.1:{ftp_server.port} (530")
    assert result.reason.endswith("check the username and password")


def test_a_missing_directory_is_named(ftp_server: FtpServer) -> None:
    result = run(target(ftp_server, FTP, directory="/no-such-folder"))
    assert not result.ok
    assert result.reason.startswith("directory '/no-such-folder' does not exist or is not")
    assert "(550" in result.reason
    assert result.reason.endswith("check factoring.ftp.directory")


def test_write_probe_uploads_and_deletes_one_file(ftp_server: FtpServer, ftp_home: Path) -> None:
    result = run(target(ftp_server, FTP), write_probe=True)
    assert result.ok, result.reason
    assert result.reason.endswith("uploaded and deleted a probe file")
    assert not [p for p in (ftp_home / "incoming").iterdir() if p.name.startswith(PROBE_PREFIX)]


def test_without_write_probe_nothing_is_written(ftp_server: FtpServer, ftp_home: Path) -> None:
    before = set((ftp_home / "incoming").iterdir())
    assert run(target(ftp_server, FTP)).ok
    assert set((ftp_home / "incoming").iterdir()) == before


def test_a_refused_connection_says_nothing_listens() -> None:
    port = unused_port()
    result = run(target(_Nowhere(port), FTP))
    assert not result.ok
    assert result.reason == (
        f"connection refused by 127.0.0.1:{port}: nothing listens on that port "
        "(wrong port or protocol, or the server is down)"
    )


def test_an_unknown_host_name_is_a_dns_failure(ftp_server: FtpServer) -> None:
    result = run(target(ftp_server, FTP, host="rts-ftp.example.invalid"))
    assert not result.ok
    assert result.reason.startswith("cannot resolve host name 'rts-ftp.example.invalid'")


def test_a_server_that_says_nothing_times_out(silent_server: SilentServer) -> None:
    result = run(target(silent_server, FTP), timeout=1)
    assert not result.ok
    assert result.reason == (
        f"timed out after 1 s while waiting for the server's greeting on 127.0.0.1:"
        f"{silent_server.port}: the server accepted the connection but did not answer"
    )
    assert result.seconds < 3


def test_an_ssh_server_is_named_as_such(sftp_server: SftpServer) -> None:
    result = run(target(sftp_server, FTP))
    assert not result.ok
    assert result.reason.startswith(f"127.0.0.1:{sftp_server.port} is an SSH server")
    assert result.reason.endswith("set protocol: sftp and pin its host_key")


class _Nowhere(CountingServer):
    """A target with nothing behind it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections = 0


def test_a_read_only_login_fails_only_the_write_probe(tmp_path: Path) -> None:
    with running(FtpServer(tmp_path, {}, read_only={"reader": "r-pass"})) as server:
        settings = target(server, FTP)
        assert run(settings, login("reader", "r-pass")).ok
        result = run(settings, login("reader", "r-pass"), write_probe=True)
    assert not result.ok
    assert result.reason.startswith(f"127.0.0.1:{server.port} answered '550")
    assert f"while uploading the probe file {PROBE_PREFIX}" in result.reason


@pytest.mark.parametrize("protocol", [FtpProtocol.FTP, FtpProtocol.SFTP])
def test_a_server_that_hangs_up_at_once_is_named(protocol: FtpProtocol) -> None:
    with running(SilentServer(hang_up=True)) as server:
        result = run(target(server, protocol, host_key=_ANY_KEY))
    assert result.reason == f"127.0.0.1:{server.port} closed the connection without a greeting"


def test_a_greeting_split_across_packets_is_still_ftp(tmp_path: Path) -> None:
    with running(_SlowGreeter()) as server:
        result = run(target(server, FTP), timeout=1)
    # The greeting is recognised as FTP; this server then stops answering (it only greets).
    assert result.reason.startswith("timed out after 1 s while logging in")


_ANY_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


class _SlowGreeter(SilentServer):
    """Sends "2", then "20 hello" a moment later: a greeting in two TCP segments."""

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _peer = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self._held.append(conn)
            conn.sendall(b"2")
            time.sleep(0.1)
            conn.sendall(b"20 hello\r\n")
