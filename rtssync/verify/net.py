"""Opening the TCP connection every protocol starts with.

Done here rather than inside ftplib or paramiko so that resolving, connecting and waiting for
the greeting are separate steps: each fails with its own reason (DNS, refused, silent server).
"""

from __future__ import annotations

import re
import socket
import time

from rtssync.verify.result import Attempt, VerifyFailure

FTP_REPLY = re.compile(rb"^\d{3}[ -]")
"""How every FTP server's first line starts: a three-digit code, then a space or a dash."""


def open_connection(attempt: Attempt) -> socket.socket:
    """A connected socket to the attempt's host and port, with the attempt's timeout set."""
    attempt.stage = "resolving the host name"
    addresses = socket.getaddrinfo(attempt.host, attempt.port, type=socket.SOCK_STREAM)
    attempt.stage = "connecting"
    last_error: OSError | None = None
    for family, kind, proto, _canonical, address in addresses:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(attempt.timeout)
        try:
            sock.connect(address)
        except OSError as error:
            sock.close()
            last_error = error
            continue
        return sock
    raise last_error or OSError(f"no address found for {attempt.host}")


def peek_greeting(sock: socket.socket, attempt: Attempt) -> bytes:
    """The first bytes the server sends, left in the socket for the protocol library to read.

    Looking first lets a wrong protocol be named ("an SSH server", "an FTP server") instead of
    surfacing as a library's confused timeout: ftplib, for one, reads "SSH-2.0-..." as the start
    of a multi-line reply and waits for its end.
    """
    attempt.stage = "waiting for the server's greeting"
    deadline = time.monotonic() + attempt.timeout
    while True:
        first = sock.recv(256, socket.MSG_PEEK)
        if not first:
            raise VerifyFailure(f"{attempt.address} closed the connection without a greeting")
        # A greeting may arrive in pieces; four bytes ("220 ", "SSH-") or a line tell enough.
        if len(first) >= 4 or b"\n" in first or time.monotonic() >= deadline:
            return first
        time.sleep(0.01)


def greeting_text(first: bytes) -> str:
    """The greeting's first line, printable and short enough to quote in a reason."""
    line = first.split(b"\n")[0].rstrip(b"\r").decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else "?" for ch in line)[:40]
