"""Turn the network's exceptions into one-line reasons a person can act on.

Only names, addresses, step names and the library's short error text go into a reason: never
a traceback, and never anything from the credentials (the caller scrubs it as well).
"""

from __future__ import annotations

import socket
import ssl

from rtssync.verify.result import Attempt


def network_reason(error: BaseException, attempt: Attempt) -> str | None:
    """A reason for a DNS, TCP, timeout or TLS error, or None when ``error`` is none of them."""
    if isinstance(error, socket.gaierror):
        return (
            f"cannot resolve host name {attempt.host!r} ({error.strerror or 'lookup failed'}): "
            "check the host in factoring.ftp and this machine's DNS"
        )
    if isinstance(error, ConnectionRefusedError):
        return (
            f"connection refused by {attempt.address}: nothing listens on that port "
            "(wrong port or protocol, or the server is down)"
        )
    if isinstance(error, TimeoutError):
        return timeout_reason(attempt)
    if isinstance(error, ssl.SSLCertVerificationError):
        return certificate_reason(error, attempt)
    if isinstance(error, ssl.SSLError):
        return (
            f"TLS handshake with {attempt.address} failed while {attempt.stage}: "
            f"{_ssl_text(error)}"
        )
    if isinstance(error, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return f"{attempt.address} closed the connection while {attempt.stage}"
    if isinstance(error, EOFError):
        return f"{attempt.address} closed the connection while {attempt.stage}"
    if isinstance(error, OSError):
        return (
            f"network error talking to {attempt.address} while {attempt.stage}: "
            f"{_os_text(error)}"
        )
    return None


def timeout_reason(attempt: Attempt) -> str:
    """Timeouts say which step stalled: a silent server differs from an unreachable one."""
    seconds = f"{attempt.timeout:g}"
    if attempt.stage == "connecting":
        return (
            f"timed out after {seconds} s connecting to {attempt.address}: "
            "the host does not answer (firewall, wrong host or port)"
        )
    return (
        f"timed out after {seconds} s while {attempt.stage} on {attempt.address}: "
        "the server accepted the connection but did not answer"
    )


def certificate_reason(error: ssl.SSLCertVerificationError, attempt: Attempt) -> str:
    """Why the server's certificate is not trusted, and the two ways out."""
    why = error.verify_message or _ssl_text(error)
    return (
        f"TLS certificate of {attempt.address} not trusted ({why}): name the CA that issued it "
        "with --ca-bundle, or have the server present a certificate valid for this host name"
    )


def _ssl_text(error: ssl.SSLError) -> str:
    return error.reason or error.strerror or type(error).__name__


def _os_text(error: OSError) -> str:
    return error.strerror or type(error).__name__
