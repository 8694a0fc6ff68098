"""Servers for the verify tests, started once per session on loopback, and ways to aim at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rtssync.config import PolicySettings
from rtssync.model import FtpCredentials, FtpProtocol, FtpSettings, Secret
from rtssync.verify import VerifyResult, verify_login
from tests.conftest import CANARY_PASSWORD
from tests.verify.servers import (
    DIRECTORY,
    LOOPBACK,
    CountingServer,
    FtpServer,
    HostKey,
    Pki,
    SftpServer,
    SilentServer,
    make_ecdsa_host_key,
    make_ed25519_host_key,
    make_pki,
    running,
)

# Logins whose passwords hold what breaks naive quoting: quotes, colons, '#', unicode and
# leading spaces. The canary's own login is among them.
USERS: dict[str, str] = {
    "canary": CANARY_PASSWORD,
    "quotes": "it's \"quoted\" and 'single'",
    "colons": "a:b::c:#not-a-comment",
    "unicode": "pässwörd-日本語-😀",
    "spaces": "   leading spaces and trailing ",
    "jürgen": "user name with unicode too",
}

# The loopback servers are allowed; .invalid names are allowed so DNS failures are reached.
TEST_POLICY = PolicySettings(allowed_hosts=(LOOPBACK, "*.invalid"))
FAST = 2.0
"""Seconds per step against servers that answer: generous for CI, small enough to fail fast."""


def login(username: str = "canary", password: str | None = None) -> FtpCredentials:
    return FtpCredentials(username=username, password=Secret(password or USERS[username]))


def target(
    server: CountingServer,
    protocol: FtpProtocol,
    *,
    directory: str = DIRECTORY,
    host_key: str | None = None,
    host: str | None = None,
) -> FtpSettings:
    return FtpSettings(
        protocol=protocol,
        host=host or server.host,
        port=server.port,
        directory=directory,
        host_key=host_key,
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def ed25519_key() -> HostKey:
    return make_ed25519_host_key()


@pytest.fixture(scope="session")
def ftp_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ftp-home")


@pytest.fixture(scope="session")
def ftp_server(ftp_home: Path) -> Iterator[FtpServer]:
    with running(FtpServer(ftp_home, USERS)) as server:
        yield server


@pytest.fixture(scope="session")
def ftps_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[FtpServer]:
    home = tmp_path_factory.mktemp("ftps-home")
    with running(FtpServer(home, USERS, certfile=pki.good)) as server:
        yield server


@pytest.fixture(scope="session")
def ftps_wrong_name_server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki
) -> Iterator[FtpServer]:
    home = tmp_path_factory.mktemp("ftps-wrong-home")
    with running(FtpServer(home, USERS, certfile=pki.wrong_name)) as server:
        yield server


@pytest.fixture(scope="session")
def ftps_self_signed_server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki
) -> Iterator[FtpServer]:
    home = tmp_path_factory.mktemp("ftps-self-home")
    with running(FtpServer(home, USERS, certfile=pki.self_signed)) as server:
        yield server


@pytest.fixture(scope="session")
def sftp_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sftp-home")


@pytest.fixture(scope="session")
def sftp_server(sftp_home: Path, ed25519_key: HostKey) -> Iterator[SftpServer]:
    with running(SftpServer(sftp_home, USERS, ed25519_key.private)) as server:
        yield server


@pytest.fixture(scope="session")
def ecdsa_sftp(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SftpServer, HostKey]]:
    key = make_ecdsa_host_key()
    home = tmp_path_factory.mktemp("sftp-ecdsa-home")
    with running(SftpServer(home, USERS, key.private)) as server:
        yield server, key


@pytest.fixture
def fresh_ftp_server(tmp_path: Path) -> Iterator[FtpServer]:
    """A server of its own, so a test can count the connections it alone caused."""
    with running(FtpServer(tmp_path, USERS)) as server:
        yield server


@pytest.fixture
def fresh_sftp_server(tmp_path: Path, ed25519_key: HostKey) -> Iterator[SftpServer]:
    with running(SftpServer(tmp_path, USERS, ed25519_key.private)) as server:
        yield server


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    with running(SilentServer()) as server:
        yield server


def run(
    settings: FtpSettings,
    credentials: FtpCredentials | None = None,
    *,
    timeout: float = FAST,
    write_probe: bool = False,
    ca_bundle: Path | None = None,
    tls_verify: bool = True,
) -> VerifyResult:
    """verify_login with the test policy and a short timeout."""
    return verify_login(
        settings,
        credentials or login(),
        policy=TEST_POLICY,
        timeout=timeout,
        write_probe=write_probe,
        ca_bundle=ca_bundle,
        tls_verify=tls_verify,
    )
