"""The exceptions rtssync raises for things a user can act on.

Every subclass of :class:`RtssyncError` is rendered by the CLI as one clear message, never as a
traceback. Messages must never contain a credential's plaintext: build them from names, paths and
fingerprints only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rtssync.model import SourceLocation


class RtssyncError(Exception):
    """Base for every error that the CLI reports as a message (exit 1)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, at a place in a file, with what to do about it."""

    location: SourceLocation | None
    message: str
    path_hint: str | None = None
    """When there is no line (e.g. a missing file), the path to name instead."""

    def __str__(self) -> str:
        where = str(self.location) if self.location else (self.path_hint or "")
        message = one_line(self.message)
        return f"{where}: {message}" if where else message


def one_line(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped: a message that
    quotes a value (a key "\\r", a !!binary block) stays one ``path:line:col: message`` line,
    which is how validate's output is read by people and parsed by tools."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class ConfigError(RtssyncError):
    """Bad input: one or more problems, each with file, line and column."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SopsError(RtssyncError):
    """A SOPS file cannot be decrypted, encrypted or trusted (wrong key, tampering, format)."""


class TmsError(RtssyncError):
    """The TMS refused or failed a request."""


class NotFoundError(TmsError):
    """The subsidiary does not exist in the TMS (any more)."""


class ConflictError(TmsError):
    """The subsidiary changed in the TMS since it was read (ETag / If-Match mismatch)."""


class StalePlanError(RtssyncError):
    """A saved plan no longer matches the desired files or the live state."""


class SafetyLimitError(RtssyncError):
    """An apply would pass a safety limit (``safety.*`` or ``prune``) without ``--force``."""


class PolicyError(RtssyncError):
    """A credential would go to a host that ``policy.allowed_hosts`` does not allow."""
