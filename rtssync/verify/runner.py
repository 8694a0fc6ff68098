"""Checking many logins at once, with bounded concurrency.

Two entry points: :func:`verify_many` for callers that already hold decrypted credentials (the
engine's ``apply --verify``), and :func:`verify_subsidiaries` for the CLI, which decrypts each
subsidiary's login through a :data:`CredentialSource` only once its host passed policy, so a
login bound for a forbidden host is never even decrypted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rtssync.config import PolicySettings
from rtssync.errors import RtssyncError
from rtssync.model import DesiredSubsidiary, FtpCredentials, FtpSettings
from rtssync.verify.core import refuse_outside_policy, verify_with_options
from rtssync.verify.options import VerifyOptions
from rtssync.verify.result import VerifyFailure, VerifyResult

Key = TypeVar("Key", bound=Hashable)
Outcome = TypeVar("Outcome")

CredentialSource = Callable[[DesiredSubsidiary], FtpCredentials]
"""Decrypts one subsidiary's RTS login; raises RtssyncError (e.g. SopsError) when it cannot."""

DEFAULT_CONCURRENCY = 4


def verify_many(
    items: Sequence[tuple[Key, FtpSettings, FtpCredentials]],
    *,
    policy: PolicySettings,
    timeout: float,
    write_probe: bool = False,
    ca_bundle: Path | None = None,
    tls_verify: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[Key, VerifyResult]:
    """One result per key, in the order given; never raises for a failed login."""
    options = VerifyOptions(
        policy=policy,
        timeout=timeout,
        write_probe=write_probe,
        ca_bundle=ca_bundle,
        tls_verify=tls_verify,
    )
    tasks = [
        (key, _bind(settings, credentials, options)) for key, settings, credentials in items
    ]
    return dict(run_bounded(tasks, concurrency))


@dataclass(frozen=True, slots=True)
class SubsidiaryCheck:
    """One row of ``rtssync verify``: a result, or why the subsidiary was not checked."""

    key: str
    result: VerifyResult | None
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        """Skipped rows (no RTS factoring in the file) do not fail the run."""
        return self.result is None or self.result.ok


def verify_subsidiaries(
    subsidiaries: Sequence[DesiredSubsidiary],
    credentials: CredentialSource,
    options: VerifyOptions,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[SubsidiaryCheck]:
    """Decrypt and check each subsidiary's login; rows in the order given."""
    tasks = [
        (subsidiary.key, _subsidiary_task(subsidiary, credentials, options))
        for subsidiary in subsidiaries
    ]
    return [check for _key, check in run_bounded(tasks, concurrency)]


def run_bounded(
    tasks: Sequence[tuple[Key, Callable[[], Outcome]]], concurrency: int
) -> list[tuple[Key, Outcome]]:
    """Run the tasks on at most ``concurrency`` threads; results in the tasks' order.

    Threads rather than asyncio because ftplib and paramiko block; each check is bounded by
    its own timeouts, so the pool always drains.
    """
    if not tasks:
        return []
    workers = max(1, min(concurrency, len(tasks)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rtssync-verify") as pool:
        futures = [(key, pool.submit(task)) for key, task in tasks]
        return [(key, future.result()) for key, future in futures]


def failed_result(settings: FtpSettings, reason: str) -> VerifyResult:
    """A result for a check that never got as far as the network."""
    return VerifyResult(
        ok=False,
        protocol=settings.protocol,
        host=settings.host,
        port=settings.port,
        reason=reason,
        seconds=0.0,
    )


def _bind(
    settings: FtpSettings, credentials: FtpCredentials, options: VerifyOptions
) -> Callable[[], VerifyResult]:
    return lambda: verify_with_options(settings, credentials, options)


def _subsidiary_task(
    subsidiary: DesiredSubsidiary, credentials: CredentialSource, options: VerifyOptions
) -> Callable[[], SubsidiaryCheck]:
    return lambda: check_subsidiary(subsidiary, credentials, options)


def check_subsidiary(
    subsidiary: DesiredSubsidiary, credentials: CredentialSource, options: VerifyOptions
) -> SubsidiaryCheck:
    """Policy, then decrypt, then log in: each step only if the one before allowed it."""
    if subsidiary.factoring is None:
        return SubsidiaryCheck(subsidiary.key, None, skipped="no RTS factoring in this file")
    settings = subsidiary.factoring.ftp
    try:
        refuse_outside_policy(settings, options.policy)
        login = credentials(subsidiary)
    except VerifyFailure as failure:
        return SubsidiaryCheck(subsidiary.key, failed_result(settings, failure.reason))
    except RtssyncError as error:
        reason = "cannot decrypt the credentials: " + " ".join(str(error).split())
        return SubsidiaryCheck(subsidiary.key, failed_result(settings, reason))
    return SubsidiaryCheck(subsidiary.key, verify_with_options(settings, login, options))
