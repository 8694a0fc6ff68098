"""How a verification runs: the choices a user makes on the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rtssync.config import PolicySettings


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """Everything besides the target and its credentials that decides how a check runs."""

    policy: PolicySettings
    timeout: float = 10.0
    """Seconds allowed for each network step (connect, greeting, each command)."""
    write_probe: bool = False
    """Upload and delete an empty file. Off by default: RTS may process anything dropped in
    its incoming folder."""
    ca_bundle: Path | None = None
    """PEM file of CA certificates to trust for FTPS instead of the system's store."""
    tls_verify: bool = True
    """False only on explicit request; every result then carries a warning."""
