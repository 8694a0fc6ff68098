"""The canary password never shows: not in results, output or logs (paramiko's included), on
success or on any failure, whatever the protocol."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from rtssync.model import FtpProtocol, FtpSettings
from tests.conftest import CANARY_PASSWORD
from tests.verify.conftest import login, run, target
from tests.verify.servers import FtpServer, HostKey, Pki, SftpServer, make_ed25519_host_key

Scenario = Callable[[pytest.FixtureRequest], tuple[FtpSettings, dict[str, object]]]


def _ftp(request: pytest.FixtureRequest, **changes: str) -> FtpSettings:
    server: FtpServer = request.getfixturevalue("ftp_server")
    return target(server, FtpProtocol.FTP, **changes)


def _ftps(request: pytest.FixtureRequest, fixture: str = "ftps_server") -> FtpSettings:
    server: FtpServer = request.getfixturevalue(fixture)
    return target(server, FtpProtocol.FTPS)


def _sftp(request: pytest.FixtureRequest, key: str | None = None, **changes: str) -> FtpSettings:
    server: SftpServer = request.getfixturevalue("sftp_server")
    pinned: HostKey = request.getfixturevalue("ed25519_key")
    return target(server, FtpProtocol.SFTP, host_key=key or pinned.public_line, **changes)


def _ca(request: pytest.FixtureRequest) -> dict[str, object]:
    pki: Pki = request.getfixturevalue("pki")
    return {"ca_bundle": pki.ca_bundle}


SCENARIOS: dict[str, Scenario] = {
    "ftp ok": lambda r: (_ftp(r), {"write_probe": True}),
    "ftp missing folder": lambda r: (_ftp(r, directory="/nope"), {}),
    "ftps ok": lambda r: (_ftps(r), {**_ca(r), "write_probe": True}),
    "ftps untrusted": lambda r: (_ftps(r), {}),
    "ftps wrong name": lambda r: (_ftps(r, "ftps_wrong_name_server"), _ca(r)),
    "ftps insecure": lambda r: (_ftps(r, "ftps_self_signed_server"), {"tls_verify": False}),
    "ftps to ftp": lambda r: (_ftps(r, "ftp_server"), _ca(r)),
    "sftp ok": lambda r: (_sftp(r), {"write_probe": True}),
    "sftp missing folder": lambda r: (_sftp(r, directory="/nope"), {}),
    "sftp key mismatch": lambda r: (_sftp(r, key=make_ed25519_host_key().public_line), {}),
    "sftp to ftp": lambda r: (
        target(r.getfixturevalue("ftp_server"), FtpProtocol.SFTP, host_key=_sftp(r).host_key),
        {},
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("password_right", [True, False], ids=["right", "wrong"])
def test_the_canary_never_shows(
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    name: str,
    password_right: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings, options = SCENARIOS[name](request)
    # With the right password the canary is the real one; with a wrong one, the canary is what
    # was sent and the server refuses it: both must stay invisible.
    users_password = CANARY_PASSWORD if password_right else CANARY_PASSWORD + "-wrong"
    credentials = login("canary", users_password)
    result = run(settings, credentials, **options)  # type: ignore[arg-type]
    expect_ok = password_right and name.endswith(("ok", "insecure"))
    assert result.ok is expect_ok, result.reason
    out, err = capfd.readouterr()
    produced = "\n".join(
        [
            repr(result),
            json.dumps(result.to_json(), ensure_ascii=False),
            json.dumps(result.to_json()),
            out,
            err,
            caplog.text,
            *(str(record.args) for record in caplog.records),
        ]
    )
    assert caplog.records, "paramiko and pyftpdlib log at DEBUG: the capture must see them"
    assert CANARY_PASSWORD not in produced
    assert ascii(CANARY_PASSWORD)[1:-1] not in produced
    assert "Traceback" not in out + err
