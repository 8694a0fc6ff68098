"""verify_login's promises beyond one protocol: policy first, always a result, no secrets out."""

from __future__ import annotations

import logging

import pytest

from rtssync.config import PolicySettings
from rtssync.model import FtpProtocol
from rtssync.verify import verify_login
from tests.conftest import CANARY_PASSWORD
from tests.verify.conftest import TEST_POLICY, login, target
from tests.verify.servers import FtpServer, HostKey, SftpServer

RTS_ONLY = PolicySettings(allowed_hosts=("*.rtsfinancial.com",))


@pytest.mark.parametrize("protocol", list(FtpProtocol))
def test_no_connection_is_made_to_a_host_outside_policy(
    fresh_ftp_server: FtpServer, protocol: FtpProtocol
) -> None:
    settings = target(fresh_ftp_server, protocol, host_key="ssh-ed25519 AAAA")
    result = verify_login(settings, login(), policy=RTS_ONLY, timeout=1)
    assert not result.ok
    assert result.reason == (
        "host '127.0.0.1' is not allowed by policy.allowed_hosts (*.rtsfinancial.com); "
        "no connection was made: add it to rtssync.yaml only if it really is RTS's server"
    )
    assert fresh_ftp_server.connections == 0


def test_the_same_server_is_reached_once_policy_allows_it(fresh_ftp_server: FtpServer) -> None:
    """The counterpart of the test above: the counter does count a real check."""
    result = verify_login(
        target(fresh_ftp_server, FtpProtocol.FTP), login(), policy=TEST_POLICY, timeout=2
    )
    assert result.ok, result.reason
    assert fresh_ftp_server.connections == 1


def test_a_host_that_only_looks_like_rts_is_refused(fresh_sftp_server: SftpServer) -> None:
    settings = target(fresh_sftp_server, FtpProtocol.SFTP, host="rtsfinancial.com.evil.invalid")
    result = verify_login(settings, login(), policy=RTS_ONLY, timeout=1)
    assert "not allowed by policy.allowed_hosts" in result.reason
    assert fresh_sftp_server.connections == 0


@pytest.mark.parametrize("port", [0, 65536])
def test_an_impossible_port_is_named(ftp_server: FtpServer, port: int) -> None:
    settings = target(ftp_server, FtpProtocol.FTP)
    settings = type(settings)(settings.protocol, settings.host, port, settings.directory)
    result = verify_login(settings, login(), policy=TEST_POLICY, timeout=1)
    assert result.reason == f"port {port} is not a TCP port (1-65535)"


def test_a_password_with_a_line_break_is_refused_before_sending(ftp_server: FtpServer) -> None:
    result = verify_login(
        target(ftp_server, FtpProtocol.FTP),
        login("canary", "two\r\nlines"),
        policy=TEST_POLICY,
        timeout=1,
    )
    assert result.reason == "the password contains a line break, which FTP cannot send"


def test_a_server_echoing_the_password_is_scrubbed(
    ftp_server: FtpServer, ed25519_key: HostKey, caplog: pytest.LogCaptureFixture
) -> None:
    """Reasons quote servers; a server quoting our password must not make us print it."""
    caplog.set_level(logging.DEBUG)
    settings = target(ftp_server, FtpProtocol.FTP, directory=f"/{CANARY_PASSWORD}")
    result = verify_login(settings, login(), policy=TEST_POLICY, timeout=2)
    assert not result.ok
    assert CANARY_PASSWORD not in result.reason
    assert "directory '/***' does not exist" in result.reason
