"""``verify_login``: policy first, then one protocol check, always a result, never a raise.

Whatever goes wrong becomes a :class:`VerifyResult` with a one-line reason, so one broken
subsidiary never stops the others and the CLI never shows a traceback. Every reason and warning
is scrubbed of the credentials on the way out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rtssync.config import PolicySettings
from rtssync.model import FtpCredentials, FtpProtocol, FtpSettings
from rtssync.policy import host_allowed
from rtssync.verify.ftp import check_ftp, check_ftps
from rtssync.verify.options import VerifyOptions
from rtssync.verify.reasons import network_reason
from rtssync.verify.result import Attempt, VerifyFailure, VerifyResult, scrub
from rtssync.verify.sftp import check_sftp

Checker = Callable[[FtpSettings, FtpCredentials, Attempt, VerifyOptions], None]

CHECKERS: dict[FtpProtocol, Checker] = {
    FtpProtocol.FTP: check_ftp,
    FtpProtocol.FTPS: check_ftps,
    FtpProtocol.SFTP: check_sftp,
}


def verify_login(
    settings: FtpSettings,
    credentials: FtpCredentials,
    *,
    policy: PolicySettings,
    timeout: float,
    write_probe: bool = False,
    ca_bundle: Path | None = None,
    tls_verify: bool = True,
) -> VerifyResult:
    """Log in to the subsidiary's RTS server, change into its directory and list it."""
    options = VerifyOptions(
        policy=policy,
        timeout=timeout,
        write_probe=write_probe,
        ca_bundle=ca_bundle,
        tls_verify=tls_verify,
    )
    return verify_with_options(settings, credentials, options)


def verify_with_options(
    settings: FtpSettings, credentials: FtpCredentials, options: VerifyOptions
) -> VerifyResult:
    """:func:`verify_login` with its choices bundled, for callers that check many targets."""
    started = time.monotonic()
    attempt = Attempt(host=settings.host, port=settings.port, timeout=options.timeout)
    try:
        refuse_outside_policy(settings, options.policy)
        CHECKERS[settings.protocol](settings, credentials, attempt, options)
        ok, reason = True, _success_reason(settings, options)
    except VerifyFailure as failure:
        ok, reason = False, failure.reason
    except Exception as error:
        ok, reason = False, _unexpected_reason(error, attempt)
    return VerifyResult(
        ok=ok,
        protocol=settings.protocol,
        host=settings.host,
        port=settings.port,
        reason=one_line(scrub(reason, credentials)),
        seconds=time.monotonic() - started,
        warnings=tuple(one_line(scrub(w, credentials)) for w in attempt.warnings),
    )


MAX_REASON_CHARS = 300


def one_line(text: str) -> str:
    """Printable and short, for a table cell. Runs after scrubbing, never before: a server's
    echo of a credential must be whole when the scrub looks for it."""
    printable = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(printable) <= MAX_REASON_CHARS:
        return printable
    return printable[: MAX_REASON_CHARS - 1] + "…"


def refuse_outside_policy(settings: FtpSettings, policy: PolicySettings) -> None:
    """Checked before any socket exists: credentials never travel to a host policy forbids."""
    if not host_allowed(settings.host, policy.allowed_hosts):
        allowed = ", ".join(policy.allowed_hosts) or "nothing"
        raise VerifyFailure(
            f"host {settings.host!r} is not allowed by policy.allowed_hosts ({allowed}); "
            "no connection was made: add it to rtssync.yaml only if it really is RTS's server"
        )
    if not 0 < settings.port < 65536:
        raise VerifyFailure(f"port {settings.port} is not a TCP port (1-65535)")


def _success_reason(settings: FtpSettings, options: VerifyOptions) -> str:
    probe = "; uploaded and deleted a probe file" if options.write_probe else ""
    return f"logged in and listed {settings.directory}{probe}"


def _unexpected_reason(error: Exception, attempt: Attempt) -> str:
    known = network_reason(error, attempt)
    if known is not None:
        return known
    text = str(error).strip().splitlines()
    detail = f": {text[0]}" if text else ""
    return f"{type(error).__name__} while {attempt.stage} with {attempt.address}{detail}"
