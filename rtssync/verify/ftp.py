"""Checking a login over plain FTP and over FTPS with explicit TLS (``AUTH TLS``).

Passive mode only: the TMS uploads from the cloud, where active-mode data connections back to
the client do not work, so a passive listing is what proves the TMS will get through. ftplib
connects data channels to the control connection's host (not the address a PASV reply names),
so no connection goes to a host that policy did not allow.
"""

from __future__ import annotations

import ftplib
import io
import socket
import ssl
import uuid
from contextlib import suppress

from rtssync.model import FtpCredentials, FtpSettings
from rtssync.verify.net import FTP_REPLY, greeting_text, open_connection, peek_greeting
from rtssync.verify.options import VerifyOptions
from rtssync.verify.result import Attempt, VerifyFailure

PLAIN_FTP_WARNING = (
    "plain FTP: the password crossed the network unencrypted; ask RTS for FTPS or SFTP"
)
INSECURE_TLS_WARNING = (
    "TLS certificate verification was OFF (--insecure-skip-tls-verify): the server's identity "
    "was not checked, so the password may have gone to an impostor"
)
PROBE_PREFIX = ".rtssync-verify-"


def check_ftp(
    settings: FtpSettings, credentials: FtpCredentials, attempt: Attempt, options: VerifyOptions
) -> None:
    """Log in over plain FTP, change into the directory and list it."""
    # Plain FTP is insecure (S321) but it is what RTS offers; the result carries a warning.
    client = ftplib.FTP(timeout=attempt.timeout)  # noqa: S321
    _run(client, settings, credentials, attempt, options, secure=None)


def check_ftps(
    settings: FtpSettings, credentials: FtpCredentials, attempt: Attempt, options: VerifyOptions
) -> None:
    """Like :func:`check_ftp`, but TLS (certificate checked) before the login and for data."""
    context = tls_context(options)
    if not options.tls_verify:
        attempt.warn(INSECURE_TLS_WARNING)
    client = SessionReusingFtpTls(context=context, timeout=attempt.timeout)
    _run(client, settings, credentials, attempt, options, secure=client)


class SessionReusingFtpTls(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session.

    vsftpd (``require_ssl_reuse``, on by default) and other hardened servers refuse a data
    connection that starts a fresh TLS session, so without this a correct login would fail at
    the listing. Resuming also proves the data channel talks to the same server.
    """

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 (wrapped below)
        if self.protected:
            session = self.sock.session if isinstance(self.sock, ssl.SSLSocket) else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size

    @property
    def protected(self) -> bool:
        """True after PROT P (ftplib keeps this in a private attribute)."""
        return bool(getattr(self, "_prot_p", False))


def tls_context(options: VerifyOptions) -> ssl.SSLContext:
    """The system's trust store (or the named CA bundle), host name checked, TLS 1.2 or later."""
    if not options.tls_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        cafile = str(options.ca_bundle) if options.ca_bundle else None
        try:
            context = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as error:
            raise VerifyFailure(
                f"cannot use CA bundle {options.ca_bundle}: "
                f"{getattr(error, 'strerror', None) or error.__class__.__name__} "
                "(it must be a readable PEM file of CA certificates)"
            ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _run(
    client: ftplib.FTP,
    settings: FtpSettings,
    credentials: FtpCredentials,
    attempt: Attempt,
    options: VerifyOptions,
    *,
    secure: ftplib.FTP_TLS | None,
) -> None:
    answering = True
    try:
        _greet(client, attempt)
        if secure is not None:
            _start_tls(secure, attempt)
        _login(client, credentials, attempt, plain=secure is None)
        if secure is not None:
            attempt.stage = "protecting the data channel (PROT P)"
            secure.prot_p()
        _list_directory(client, settings.directory, attempt)
        if options.write_probe:
            _write_probe(client, attempt)
    except ftplib.Error as error:
        raise VerifyFailure(_reply_reason(error, attempt)) from None
    except BaseException:
        answering = False
        raise
    finally:
        _close(client, polite=answering and client.welcome is not None)


def _greet(client: ftplib.FTP, attempt: Attempt) -> None:
    """Connect and read the 220 greeting (ftplib's own connect() would blur the two steps)."""
    sock = open_connection(attempt)
    client.host, client.port = attempt.host, attempt.port
    client.sock = sock
    client.af = sock.family
    client.file = sock.makefile("r", encoding=client.encoding)
    first = peek_greeting(sock, attempt)
    if not FTP_REPLY.match(first):
        raise VerifyFailure(_not_ftp_reason(greeting_text(first), attempt))
    client.welcome = client.getresp()


def _start_tls(client: ftplib.FTP_TLS, attempt: Attempt) -> None:
    attempt.stage = "starting TLS (AUTH TLS)"
    try:
        client.auth()
    except ftplib.error_perm as error:
        raise VerifyFailure(
            f"{attempt.address} does not offer explicit TLS (AUTH TLS answered "
            f"{_first_line(error)!r}): if it is a plain FTP server set protocol: ftp"
        ) from None


def _login(
    client: ftplib.FTP, credentials: FtpCredentials, attempt: Attempt, *, plain: bool
) -> None:
    if not credentials.username:
        raise VerifyFailure("the username is empty: set it with `rtssync secrets set`")
    password = credentials.password.reveal()
    if "\r" in password or "\n" in password:
        raise VerifyFailure("the password contains a line break, which FTP cannot send")
    attempt.stage = "logging in"
    if plain:
        attempt.warn(PLAIN_FTP_WARNING)
    client.login(credentials.username, password)


def _list_directory(client: ftplib.FTP, directory: str, attempt: Attempt) -> None:
    attempt.stage = f"changing into directory {directory!r}"
    client.cwd(directory)
    attempt.stage = f"listing directory {directory!r}"
    client.retrlines("LIST", _discard)


def _write_probe(client: ftplib.FTP, attempt: Attempt) -> None:
    """Upload and delete an empty, uniquely named dot-file: proves the TMS can drop files."""
    name = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    attempt.stage = f"uploading the probe file {name}"
    client.storbinary(f"STOR {name}", io.BytesIO(b""))
    attempt.stage = f"deleting the probe file {name} (remove it by hand)"
    client.delete(name)


def _reply_reason(error: ftplib.Error, attempt: Attempt) -> str:
    """What an FTP error reply means at the step where it came."""
    reply = _first_line(error)
    code = reply[:3]
    if attempt.stage == "logging in" and code in {"530", "430"}:
        return f"login refused by {attempt.address} ({reply}): check the username and password"
    if attempt.stage.startswith("changing into") and code == "550":
        return (
            f"{attempt.stage.removeprefix('changing into ')} does not exist or is not accessible "
            f"on {attempt.address} ({reply}): check factoring.ftp.directory"
        )
    if isinstance(error, ftplib.error_temp):
        return f"{attempt.address} answered {reply!r} while {attempt.stage}: try again later"
    return f"{attempt.address} answered {reply!r} while {attempt.stage}"


def _not_ftp_reason(greeting: str, attempt: Attempt) -> str:
    if greeting.startswith("SSH-"):
        return (
            f"{attempt.address} is an SSH server (it greeted with {greeting!r}), not FTP: "
            "set protocol: sftp and pin its host_key"
        )
    return f"{attempt.address} does not speak FTP (it greeted with {greeting!r})"


def _first_line(error: BaseException) -> str:
    """The server's words, whole: the result is scrubbed of credentials first and only then
    shortened and made printable (a cut or altered echo would no longer match the scrub)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _close(client: ftplib.FTP, *, polite: bool) -> None:
    """QUIT to a server that has been answering; just hang up on one that is silent, broken
    or not FTP at all, where waiting for a goodbye would only add another timeout."""
    if polite and client.sock is not None:
        with suppress(OSError, EOFError, ftplib.Error):
            client.sock.settimeout(min(client.sock.gettimeout() or 1.0, 1.0))
            client.quit()
    client.close()


def _discard(_line: str) -> None:
    """The listing itself is not needed: receiving it is what proves the data channel works."""
