"""A server that echoes the password back in a long reply: the reason is scrubbed before it is
shortened or made printable, so no prefix or altered spelling of the password gets through."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from rtssync.config import PolicySettings
from rtssync.model import FtpCredentials, FtpProtocol, FtpSettings, Secret
from rtssync.verify import verify_login

# Non-printable and non-ASCII characters: a "make it printable" step before the scrub would
# alter them and let the rest through.
PASSWORD = "echo\u00a0Pass\x01word-9f"


def _serve_one(listener: socket.socket) -> None:
    connection, _ = listener.accept()
    with connection, connection.makefile("rwb") as stream:
        stream.write(b"220 echo server\r\n")
        stream.flush()
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("USER"):
                stream.write(b"331 password please\r\n")
            elif line.startswith("PASS"):
                # Across column 120, where a cut before the scrub would leave a prefix.
                echoed = "530 " + "x" * 100 + " rejected: " + line[5:]
                stream.write(echoed.encode("utf-8") + b"\r\n")
            else:
                stream.write(b"221 bye\r\n")
                stream.flush()
                return
            stream.flush()


@pytest.fixture
def echoing_server() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=_serve_one, args=(listener,), daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


def test_an_echoed_password_is_scrubbed_whole_before_the_reason_is_shortened(
    echoing_server: int,
) -> None:
    result = verify_login(
        FtpSettings(FtpProtocol.FTP, "127.0.0.1", echoing_server, "/in"),
        FtpCredentials("echo-user", Secret(PASSWORD)),
        policy=PolicySettings(allowed_hosts=("127.0.0.1",)),
        timeout=5,
    )

    assert not result.ok
    assert "530" in result.reason or "login" in result.reason
    for fragment in ("echo", "Pass", "word-9f"):
        assert fragment not in result.reason, result.reason
