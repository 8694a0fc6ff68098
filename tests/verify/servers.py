"""Real servers on loopback for the verify tests: FTP and FTPS (pyftpdlib), SFTP (paramiko in
server mode), a server that accepts and says nothing, and the certificates and host keys they
present, all generated per test run.

Each server counts the connections it accepted, so a test can prove that none was made.
"""

from __future__ import annotations

import datetime
import errno
import io
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import paramiko
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)
from paramiko.sftp import SFTP_OK
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import FTPServer

LOOPBACK = "127.0.0.1"
DIRECTORY = "/incoming"

# --- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """PEM files: a test CA, server certificates it issued, and one that signs itself."""

    ca_bundle: Path
    """The CA certificate: what a client names with --ca-bundle."""
    good: Path
    """Issued by the CA for localhost and 127.0.0.1 (certificate and key in one file)."""
    wrong_name: Path
    """Issued by the CA for ftp.wrong-name.test only."""
    self_signed: Path
    """Valid names (localhost, 127.0.0.1), but signed by nobody."""


def make_pki(directory: Path) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(_name("rtssync test CA"), ca_key, _name("rtssync test CA"), ca_key, [])
    ca_bundle = directory / "ca.pem"
    ca_bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    loopback: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
    ]
    good = _write_server(directory / "good.pem", ca_key, ca_cert.subject, loopback)
    wrong = _write_server(
        directory / "wrong.pem", ca_key, ca_cert.subject, [x509.DNSName("ftp.wrong-name.test")]
    )
    own_key = ec.generate_private_key(ec.SECP256R1())
    own = _certificate(_name("localhost"), own_key, _name("localhost"), own_key, loopback)
    self_signed = directory / "self-signed.pem"
    self_signed.write_bytes(_pem(own, own_key))
    return Pki(ca_bundle=ca_bundle, good=good, wrong_name=wrong, self_signed=self_signed)


def _write_server(
    path: Path, ca_key: ec.EllipticCurvePrivateKey, issuer: x509.Name, names: list[Any]
) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(_name("rtssync test server"), key, issuer, ca_key, names)
    path.write_bytes(_pem(cert, key))
    return path


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    names: list[x509.GeneralName],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    is_ca = not names
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --- host keys -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HostKey:
    """An SSH host key: paramiko's private key for the server, the public line for the pin."""

    private: paramiko.PKey
    public_line: str


def make_ed25519_host_key() -> HostKey:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return HostKey(
        private=paramiko.Ed25519Key(file_obj=io.StringIO(private)),
        public_line=public.decode() + " test-host-key",
    )


def make_rsa_host_key() -> HostKey:
    key = paramiko.RSAKey.generate(2048)
    return HostKey(private=key, public_line=f"ssh-rsa {key.get_base64()}")


def make_ecdsa_host_key() -> HostKey:
    key = paramiko.ECDSAKey.generate()
    return HostKey(private=key, public_line=f"{key.get_name()} {key.get_base64()}")


# --- FTP and FTPS ----------------------------------------------------------------------------


class CountingServer:
    """Something listening on loopback that counts the connections it accepted."""

    port: int
    connections: int

    @property
    def host(self) -> str:
        return LOOPBACK


class FtpServer(CountingServer):
    """pyftpdlib on its own IOLoop in a thread; ``certfile`` makes it FTPS (explicit TLS)."""

    def __init__(
        self,
        home: Path,
        users: Mapping[str, str],
        certfile: Path | None = None,
        *,
        read_only: Mapping[str, str] | None = None,
    ) -> None:
        (home / DIRECTORY.strip("/")).mkdir(parents=True, exist_ok=True)
        authorizer = DummyAuthorizer()
        for username, password in users.items():
            authorizer.add_user(username, password, str(home), perm="elradfmwMT")
        for username, password in (read_only or {}).items():
            authorizer.add_user(username, password, str(home), perm="elr")
        self.connections = 0
        self._stop = threading.Event()
        handler = self._handler_class(authorizer, certfile)
        self._server = FTPServer((LOOPBACK, 0), handler, ioloop=IOLoop())
        self.port = int(self._server.address[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _handler_class(self, authorizer: DummyAuthorizer, certfile: Path | None) -> type[Any]:
        owner = self

        def on_connect(_handler: Any) -> None:
            owner.connections += 1

        attributes: dict[str, Any] = {
            "authorizer": authorizer,
            "auth_failed_timeout": 0,
            "on_connect": on_connect,
            "banner": "rtssync test FTP server ready.",
        }
        if certfile is None:
            return type("TestFtpHandler", (FTPHandler,), attributes)
        attributes.update(certfile=str(certfile), ssl_context=None)
        return type("TestFtpsHandler", (TLS_FTPHandler,), attributes)

    def _serve(self) -> None:
        while not self._stop.is_set():
            # The IOLoop directly: serve_forever() would log "starting" on every round.
            self._server.ioloop.loop(timeout=0.02, blocking=False)
        self._server.close_all()

    def start(self) -> FtpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


# --- SFTP --------------------------------------------------------------------------------


class _PasswordServer(paramiko.ServerInterface):
    def __init__(self, users: Mapping[str, str], auths: str, auth_delay: float) -> None:
        self._users = users
        self._auths = auths
        self._auth_delay = auth_delay

    def get_allowed_auths(self, username: str) -> str:
        return self._auths

    def check_auth_password(self, username: str, password: str) -> int:
        # paramiko does not enforce get_allowed_auths itself; a real server would.
        time.sleep(self._auth_delay)
        allowed = "password" in self._auths.split(",")
        if allowed and username in self._users and self._users[username] == password:
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


def _status(error: OSError) -> int:
    return int(paramiko.SFTPServer.convert_errno(error.errno or errno.EIO))


class _FileHandle(paramiko.SFTPHandle):
    def __init__(self, flags: int, file: IO[bytes]) -> None:
        super().__init__(flags)
        # paramiko's SFTPHandle reads and writes through these two attributes.
        self.readfile = file
        self.writefile = file

    def stat(self) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as error:
            return _status(error)


class _RootedSftp(paramiko.SFTPServerInterface):
    """Serves one folder as "/", like an SFTP server with a chroot."""

    def __init__(self, server: paramiko.ServerInterface, root: str) -> None:
        super().__init__(server)
        self._root = root

    def _real(self, path: str) -> str:
        return self._root + self.canonicalize(path)

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        real = self._real(path)
        try:
            return [
                paramiko.SFTPAttributes.from_stat(os.stat(os.path.join(real, name)), name)
                for name in os.listdir(real)
            ]
        except OSError as error:
            return _status(error)

    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(self._real(path)))
        except OSError as error:
            return _status(error)

    lstat = stat

    def open(
        self, path: str, flags: int, attr: paramiko.SFTPAttributes
    ) -> paramiko.SFTPHandle | int:
        try:
            fd = os.open(self._real(path), flags, 0o644)
        except OSError as error:
            return _status(error)
        mode = "wb" if flags & (os.O_WRONLY | os.O_RDWR) else "rb"
        return _FileHandle(flags, os.fdopen(fd, mode))

    def remove(self, path: str) -> int:
        try:
            os.remove(self._real(path))
        except OSError as error:
            return _status(error)
        return SFTP_OK


class SftpServer(CountingServer):
    """paramiko in server mode: password logins, one folder served as "/"."""

    def __init__(
        self,
        home: Path,
        users: Mapping[str, str],
        host_key: paramiko.PKey,
        *,
        auths: str = "password",
        auth_delay: float = 0.0,
    ) -> None:
        (home / DIRECTORY.strip("/")).mkdir(parents=True, exist_ok=True)
        self._auths = auths
        self._auth_delay = auth_delay
        self._home = str(home)
        self._users = dict(users)
        self._host_key = host_key
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self.connections = 0
        self._transports: list[paramiko.Transport] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _peer = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            transport = paramiko.Transport(conn)
            transport.add_server_key(self._host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _RootedSftp, self._home)
            interface = _PasswordServer(self._users, self._auths, self._auth_delay)
            transport.start_server(event=threading.Event(), server=interface)
            self._transports.append(transport)

    def start(self) -> SftpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for transport in self._transports:
            transport.close()
        self._listener.close()


# --- a server that says nothing ------------------------------------------------------------


class SilentServer(CountingServer):
    """Accepts connections and never sends a byte: what a hung server looks like.

    With ``hang_up`` it closes each connection at once instead (a crashing or refusing daemon).
    """

    def __init__(self, *, hang_up: bool = False) -> None:
        self._hang_up = hang_up
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self.connections = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            with suppress(TimeoutError):
                conn, _peer = self._listener.accept()
                self.connections += 1
                if self._hang_up:
                    conn.close()
                else:
                    self._held.append(conn)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self._listener.close()


def unused_port() -> int:
    """A port nothing listens on (bound and released; nothing else on loopback grabs it)."""
    with socket.create_server((LOOPBACK, 0)) as probe:
        return int(probe.getsockname()[1])


@contextmanager
def running(server: FtpServer | SftpServer | SilentServer) -> Iterator[Any]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
