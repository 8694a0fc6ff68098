"""Many logins at once: bounded, ordered, one row per subsidiary, decrypting only when allowed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rtssync.config import PolicySettings
from rtssync.errors import SopsError
from rtssync.model import (
    DesiredFactoring,
    DesiredSubsidiary,
    EncryptedCredentials,
    FactoringProvider,
    FtpCredentials,
    FtpProtocol,
    FtpSettings,
    Invoicing,
    InvoicingMethod,
    SubsidiaryFields,
)
from rtssync.verify.options import VerifyOptions
from rtssync.verify.runner import run_bounded, verify_many, verify_subsidiaries
from tests.verify.conftest import TEST_POLICY, login, target
from tests.verify.servers import FtpServer, SilentServer


def subsidiary(key: str, ftp: FtpSettings | None) -> DesiredSubsidiary:
    factoring = None
    if ftp is not None:
        factoring = DesiredFactoring(
            provider=FactoringProvider.RTS,
            ftp=ftp,
            credentials=EncryptedCredentials("ENC[user]", "ENC[password]"),
        )
    return DesiredSubsidiary(
        key=key,
        source=Path(f"/config/{key}.yaml"),
        tms_id=None,
        fields=SubsidiaryFields(name=key, mc_number="1", dot_number="2"),
        notice_of_assignment="NOA",
        invoicing=Invoicing(InvoicingMethod.FACTORING, auto_merge=True),
        factoring=factoring,
    )


class RecordingSource:
    """A credential source that hands out the canary login and remembers who asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, subsidiary: DesiredSubsidiary) -> FtpCredentials:
        self.asked.append(subsidiary.key)
        if subsidiary.key == "undecryptable":
            raise SopsError(f"{subsidiary.source}: no age identity matches\nthe recipients")
        return login()


def test_verify_many_returns_one_result_per_key_in_order(ftp_server: FtpServer) -> None:
    good = target(ftp_server, FtpProtocol.FTP)
    missing = target(ftp_server, FtpProtocol.FTP, directory="/nope")
    results = verify_many(
        [("b", good, login()), ("a", missing, login()), ("c", good, login("colons"))],
        policy=TEST_POLICY,
        timeout=2,
    )
    assert list(results) == ["b", "a", "c"]
    assert [r.ok for r in results.values()] == [True, False, True]


def test_checks_run_concurrently_up_to_the_limit(silent_server: SilentServer) -> None:
    settings = target(silent_server, FtpProtocol.FTP)
    items = [(n, settings, login()) for n in range(4)]
    started = time.monotonic()
    results = verify_many(items, policy=TEST_POLICY, timeout=1, concurrency=4)
    assert time.monotonic() - started < 2.5  # four 1 s timeouts side by side, not in a row
    assert all(not r.ok and r.reason.startswith("timed out") for r in results.values())


def test_run_bounded_never_exceeds_the_limit() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def task() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    run_bounded([(n, task) for n in range(12)], concurrency=3)
    assert peak == 3


def test_subsidiaries_are_decrypted_only_when_their_host_is_allowed(
    ftp_server: FtpServer,
) -> None:
    allowed = target(ftp_server, FtpProtocol.FTP)
    forbidden = target(ftp_server, FtpProtocol.FTP, host="ftp.elsewhere.example")
    source = RecordingSource()
    checks = verify_subsidiaries(
        [subsidiary("good", allowed), subsidiary("elsewhere", forbidden)],
        source,
        VerifyOptions(policy=TEST_POLICY, timeout=2),
    )
    assert source.asked == ["good"]
    assert [c.key for c in checks] == ["good", "elsewhere"]
    assert checks[0].ok
    assert checks[1].result is not None
    assert "not allowed by policy.allowed_hosts" in checks[1].result.reason


def test_a_file_without_factoring_is_skipped_not_failed() -> None:
    checks = verify_subsidiaries(
        [subsidiary("no-rts", None)], RecordingSource(), VerifyOptions(policy=TEST_POLICY)
    )
    assert checks[0].result is None
    assert checks[0].skipped == "no RTS factoring in this file"
    assert checks[0].ok


def test_a_decryption_failure_fails_that_row_only(ftp_server: FtpServer) -> None:
    settings = target(ftp_server, FtpProtocol.FTP)
    checks = verify_subsidiaries(
        [subsidiary("undecryptable", settings), subsidiary("fine", settings)],
        RecordingSource(),
        VerifyOptions(policy=PolicySettings(allowed_hosts=("127.0.0.1",)), timeout=2),
    )
    failed, fine = checks
    assert failed.result is not None
    assert failed.result.reason == (
        "cannot decrypt the credentials: /config/undecryptable.yaml: no age identity matches "
        "the recipients"
    )
    assert fine.ok
