"""FTPS (explicit TLS): the certificate is checked before the password leaves, unless the user
turns checking off out loud."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from rtssync.model import FtpProtocol
from rtssync.verify.ftp import INSECURE_TLS_WARNING, SessionReusingFtpTls
from tests.verify.conftest import FAST, USERS, login, run, target
from tests.verify.servers import DIRECTORY, FtpServer, Pki

FTPS = FtpProtocol.FTPS


@pytest.mark.parametrize("username", sorted(USERS))
def test_a_good_login_passes_with_the_issuing_ca_named(
    ftps_server: FtpServer, pki: Pki, username: str
) -> None:
    result = run(target(ftps_server, FTPS), login(username), ca_bundle=pki.ca_bundle)
    assert result.ok, result.reason
    assert result.reason == f"logged in and listed {DIRECTORY}"
    assert result.warnings == ()


def test_write_probe_works_over_a_protected_data_channel(
    ftps_server: FtpServer, pki: Pki
) -> None:
    result = run(target(ftps_server, FTPS), ca_bundle=pki.ca_bundle, write_probe=True)
    assert result.ok, result.reason


def test_a_certificate_from_an_unknown_ca_is_refused_before_login(
    ftps_server: FtpServer,
) -> None:
    result = run(target(ftps_server, FTPS))
    assert not result.ok
    assert result.reason.startswith(f"TLS certificate of 127.0.0.1:{ftps_server.port} not trusted")
    assert "unable to get local issuer certificate" in result.reason
    assert "--ca-bundle" in result.reason


def test_a_self_signed_certificate_is_refused(ftps_self_signed_server: FtpServer, pki: Pki) -> None:
    result = run(target(ftps_self_signed_server, FTPS), ca_bundle=pki.ca_bundle)
    assert not result.ok
    assert "not trusted (self-signed certificate)" in result.reason


def test_a_certificate_for_another_name_is_refused(
    ftps_wrong_name_server: FtpServer, pki: Pki
) -> None:
    result = run(target(ftps_wrong_name_server, FTPS), ca_bundle=pki.ca_bundle)
    assert not result.ok
    assert "not trusted (IP address mismatch" in result.reason
    assert "valid for this host name" in result.reason


def test_skipping_verification_works_but_is_reported(ftps_self_signed_server: FtpServer) -> None:
    result = run(target(ftps_self_signed_server, FTPS), tls_verify=False)
    assert result.ok, result.reason
    assert result.warnings == (INSECURE_TLS_WARNING,)
    assert "OFF" in INSECURE_TLS_WARNING


def test_a_server_without_auth_tls_is_named(ftp_server: FtpServer, pki: Pki) -> None:
    result = run(target(ftp_server, FTPS), ca_bundle=pki.ca_bundle)
    assert not result.ok
    assert result.reason.startswith(
        f"127.0.0.1:{ftp_server.port} does not offer explicit TLS (AUTH TLS answered '500"
    )
    assert result.reason.endswith("if it is a plain FTP server set protocol: ftp")


def test_a_wrong_password_is_a_refused_login(ftps_server: FtpServer, pki: Pki) -> None:
    result = run(target(ftps_server, FTPS), login("canary", "nope"), ca_bundle=pki.ca_bundle)
    assert result.reason.startswith(f"login refused by 127.0.0.1:{ftps_server.port} (530")


def test_a_missing_directory_is_named(ftps_server: FtpServer, pki: Pki) -> None:
    result = run(target(ftps_server, FTPS, directory="/nope"), ca_bundle=pki.ca_bundle)
    assert result.reason.startswith("directory '/nope' does not exist or is not accessible")


def test_an_unreadable_ca_bundle_is_named(ftps_server: FtpServer, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    result = run(target(ftps_server, FTPS), ca_bundle=missing)
    assert not result.ok
    assert result.reason.startswith(f"cannot use CA bundle {missing}")


def test_a_ca_bundle_that_is_not_pem_is_named(ftps_server: FtpServer, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    result = run(target(ftps_server, FTPS), ca_bundle=garbage)
    assert not result.ok
    assert result.reason.startswith(f"cannot use CA bundle {garbage}")


def test_data_connections_resume_the_control_tls_session(ftps_server: FtpServer, pki: Pki) -> None:
    """Servers like vsftpd (require_ssl_reuse) refuse data connections that do not."""
    context = ssl.create_default_context(cafile=str(pki.ca_bundle))
    client = SessionReusingFtpTls(context=context, timeout=FAST)
    try:
        client.connect("127.0.0.1", ftps_server.port)
        client.auth()
        client.login("canary", USERS["canary"])
        client.prot_p()
        data, _size = client.ntransfercmd("LIST")
        with data:
            assert isinstance(data, ssl.SSLSocket)
            assert data.session_reused
            data.recv(1024)
        client.voidresp()
    finally:
        client.close()
