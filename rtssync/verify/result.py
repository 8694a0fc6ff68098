"""What a verification found, and the pieces the protocol checkers share to say it.

A protocol checker raises :class:`VerifyFailure` with a reason a person can act on; anything
else it lets escape is turned into such a reason by :mod:`rtssync.verify.reasons`, using the
:class:`Attempt` to say which step was under way ("logging in", "changing directory").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rtssync.model import FtpCredentials, FtpProtocol


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of one login check. ``reason`` is one line and never holds a credential."""

    ok: bool
    protocol: FtpProtocol
    host: str
    port: int
    reason: str
    seconds: float
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``--format json`` and for the engine's journal."""
        return {
            "ok": self.ok,
            "protocol": str(self.protocol),
            "host": self.host,
            "port": self.port,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "warnings": list(self.warnings),
        }


class VerifyFailure(Exception):
    """A check failed for a reason already phrased for the user (one line, no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Attempt:
    """Mutable progress of one check: the step under way and the warnings gathered so far.

    Failures are explained by the step they happened in: a timeout while "waiting for the
    server's greeting" means something else than one while "listing the directory".
    """

    host: str
    port: int
    timeout: float
    stage: str = "connecting"
    warnings: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        """``host:port`` as people write it (IPv6 literals in brackets)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def scrub(text: str, credentials: FtpCredentials) -> str:
    """``text`` on one line with the password and username replaced by ``***``.

    Reasons quote what servers said; a server may echo what it was sent. This is the last
    line of defence so a password can never reach a report, whatever a server does.
    The username is scrubbed too: it is encrypted in git, so it is not ours to publish either.
    """
    line = " ".join(text.split())
    for secret in (credentials.password.reveal(), credentials.username):
        for variant in sorted(_spellings(secret), key=len, reverse=True):
            if len(variant) >= 3:
                line = line.replace(variant, "***")
    return line


def _spellings(secret: str) -> set[str]:
    """The ways a value can appear in a reason: as is, whitespace-squeezed, or quoted by repr."""
    forms = {secret, secret.strip(), " ".join(secret.split())}
    return forms | {repr(form)[1:-1] for form in forms} | {ascii(form)[1:-1] for form in forms}
