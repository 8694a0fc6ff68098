"""Checking a login over SFTP, against the pinned host key only.

paramiko's Transport is used directly (not SSHClient) so that nothing is looked up behind the
user's back: no known_hosts, no agent, no key files. The one key that is trusted is the
``host_key`` written in the subsidiary file; anything else is refused before the password is
sent.
"""

from __future__ import annotations

import base64
import binascii
import errno
import logging
import socket
import threading
import uuid

import paramiko
from paramiko.pkey import UnknownKeyType

from rtssync.model import FtpCredentials, FtpSettings
from rtssync.verify.net import FTP_REPLY, greeting_text, open_connection, peek_greeting
from rtssync.verify.options import VerifyOptions
from rtssync.verify.reasons import timeout_reason
from rtssync.verify.result import Attempt, VerifyFailure

PROBE_PREFIX = ".rtssync-verify-"

# paramiko logs transport failures (with tracebacks) at ERROR. Without any handler on the way
# up, logging's last-resort handler would print them on stderr of the CLI; a NullHandler stops
# that while still letting the records propagate to whatever logging the application set up.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

_RSA_ALGORITHMS = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]


def check_sftp(
    settings: FtpSettings, credentials: FtpCredentials, attempt: Attempt, options: VerifyOptions
) -> None:
    """Log in with the password, change into the directory and list it (upload when asked)."""
    expected = parse_host_key(settings.host_key)
    sock = open_connection(attempt)
    transport: paramiko.Transport | None = None
    try:
        _expect_ssh_greeting(sock, attempt)
        transport = _negotiate(sock, expected, attempt)
        _login(transport, credentials, attempt)
        _use_directory(transport, settings.directory, attempt, write_probe=options.write_probe)
    except paramiko.SSHException as error:
        raise VerifyFailure(_ssh_reason(error, attempt, expected)) from None
    except OSError as error:
        reason = _sftp_io_reason(error, attempt)
        if reason is None:
            raise
        raise VerifyFailure(reason) from None
    finally:
        if transport is not None:
            transport.close()
        sock.close()


def parse_host_key(line: str | None) -> paramiko.PKey:
    """The pinned key from an OpenSSH public key line (``ssh-ed25519 AAAA... [comment]``)."""
    if not line or not line.strip():
        raise VerifyFailure(
            "factoring.ftp.host_key is missing: SFTP needs the server's host key pinned "
            "(e.g. the 'ssh-ed25519 AAAA...' line from `ssh-keyscan`, confirmed with RTS); "
            "refusing to connect without it"
        )
    parts = line.split()
    try:
        if len(parts) < 2:
            raise ValueError("no key data")
        blob = base64.b64decode(parts[1], validate=True)
        key = paramiko.PKey.from_type_string(parts[0], blob)
    except (ValueError, binascii.Error, TypeError, paramiko.SSHException, UnknownKeyType):
        raise VerifyFailure(
            "factoring.ftp.host_key is not an OpenSSH public key line "
            "('ssh-ed25519 AAAA...', 'ecdsa-sha2-nistp256 AAAA...' or 'ssh-rsa AAAA...')"
        ) from None
    return key


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` as ``ssh-keygen -lf`` prints it, so people can compare by eye."""
    return str(key.fingerprint)


def _expect_ssh_greeting(sock: socket.socket, attempt: Attempt) -> None:
    """Peek at the first bytes: an FTP server's "220" is named as such, a silent one times out."""
    first = peek_greeting(sock, attempt)
    if FTP_REPLY.match(first):
        greeting = greeting_text(first)
        raise VerifyFailure(
            f"{attempt.address} is an FTP server (it greeted with {greeting!r}), not SFTP: "
            "set protocol: ftp or ftps"
        )


def _negotiate(
    sock: socket.socket, expected: paramiko.PKey, attempt: Attempt
) -> paramiko.Transport:
    """Key exchange offering only the pinned key's type, then an exact comparison of keys."""
    attempt.stage = "negotiating the SSH session"
    transport = paramiko.Transport(sock)
    transport.banner_timeout = attempt.timeout
    transport.handshake_timeout = attempt.timeout
    transport.auth_timeout = attempt.timeout
    name = expected.get_name()
    security = transport.get_security_options()
    wanted = _RSA_ALGORITHMS if name == "ssh-rsa" else [name]
    security.key_types = [kind for kind in wanted if kind in security.key_types]
    done = threading.Event()
    transport.start_client(event=done)
    if not done.wait(attempt.timeout + 1):
        raise TimeoutError("SSH negotiation")
    if not transport.is_active():
        raise transport.get_exception() or paramiko.SSHException("negotiation failed")
    attempt.stage = "checking the host key"
    received = transport.get_remote_server_key()
    if received.asbytes() != expected.asbytes():
        raise VerifyFailure(
            f"host key mismatch for {attempt.address}: expected {name} {fingerprint(expected)} "
            f"(factoring.ftp.host_key), received {received.get_name()} {fingerprint(received)}; "
            "refusing to log in: confirm the new key with RTS before changing host_key"
        )
    return transport


def _login(transport: paramiko.Transport, credentials: FtpCredentials, attempt: Attempt) -> None:
    if not credentials.username:
        raise VerifyFailure("the username is empty: set it with `rtssync secrets set`")
    attempt.stage = "logging in"
    transport.auth_password(credentials.username, credentials.password.reveal())


def _use_directory(
    transport: paramiko.Transport, directory: str, attempt: Attempt, *, write_probe: bool
) -> None:
    attempt.stage = "opening the SFTP session"
    sftp = paramiko.SFTPClient.from_transport(transport)
    if sftp is None:
        raise VerifyFailure(f"{attempt.address} refused to open an SFTP session")
    with sftp:
        attempt.stage = f"changing into directory {directory!r}"
        sftp.chdir(directory)
        attempt.stage = f"listing directory {directory!r}"
        sftp.listdir()
        if write_probe:
            name = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
            attempt.stage = f"uploading the probe file {name}"
            with sftp.open(name, "wb") as probe:
                probe.write(b"")
            attempt.stage = f"deleting the probe file {name} (remove it by hand)"
            sftp.remove(name)


def _ssh_reason(error: paramiko.SSHException, attempt: Attempt, expected: paramiko.PKey) -> str:
    if isinstance(error, paramiko.BadAuthenticationType):
        allowed = ", ".join(error.allowed_types) or "none"
        return f"{attempt.address} does not accept password logins (it allows: {allowed})"
    text = str(error).strip() or type(error).__name__
    if isinstance(error, paramiko.AuthenticationException):
        if "timeout" in text.lower():  # paramiko's own auth_timeout, not a refusal
            return timeout_reason(attempt)
        return f"login refused by {attempt.address}: check the username and password"
    if "protocol banner" in text:
        return f"{attempt.address} does not speak SSH: set the protocol that server speaks"
    if "no acceptable host key" in text:
        return (
            f"{attempt.address} offers no {expected.get_name()} host key, the type pinned in "
            "factoring.ftp.host_key: check host_key with RTS"
        )
    return f"SSH failed while {attempt.stage} with {attempt.address}: {text.splitlines()[0]}"


def _sftp_io_reason(error: OSError, attempt: Attempt) -> str | None:
    """SFTP status errors arrive as OSError with an errno; sockets' errors are left to others."""
    if isinstance(error, (TimeoutError, ConnectionError, socket.gaierror)):
        return None
    if not attempt.stage.startswith(("changing", "listing", "uploading", "deleting")):
        return None
    if error.errno == errno.ENOENT and attempt.stage.startswith("changing into"):
        return (
            f"{attempt.stage.removeprefix('changing into ')} does not exist on {attempt.address}: "
            "check factoring.ftp.directory"
        )
    if error.errno == errno.EACCES:
        return f"permission denied on {attempt.address} while {attempt.stage}"
    return f"{attempt.address} refused while {attempt.stage}: {error.strerror or error}"
