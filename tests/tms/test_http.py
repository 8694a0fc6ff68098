"""The http backend against the reference server over real loopback HTTP.

First the whole backend contract (tests/tms/contract.py), exactly as the local backend passes
it; then what only a network client has to get right: tokens, paging cost, rate limits,
retries through injected faults, and secrets kept out of errors and logs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from rtssync.config import Settings, TmsKind, TmsSettings
from rtssync.errors import ConflictError, RtssyncError, TmsError
from rtssync.model import FtpProtocol, FtpSettings, LiveSubsidiary, Secret
from rtssync.tms.base import TmsBackend
from rtssync.tms.faults import Fault, FaultConfig
from rtssync.tms.http import ClientCredentials, HttpBackend, HttpOptions
from tests.conftest import CANARY_PASSWORD

from .contract import (
    APPLIED,
    EVERY_WRITE,
    FACTORING,
    FTP,
    SFTP,
    TmsContract,
    TmsSide,
    Write,
    login,
    sample_fields,
)
from .server_fixture import RunningServer, run_server, tms_server

__all__ = ["tms_server"]  # the fixture, imported so pytest finds it here

FAST = HttpOptions(rate_limit=1000.0, rate_burst=50.0, backoff_initial=0.01, backoff_max=0.2)
"""For suites that are not about pacing: the contract suite makes hundreds of calls."""


def backend_for(server: RunningServer, options: HttpOptions = FAST) -> HttpBackend:
    return server.http_backend(options)


class TestHttpBackendContract(TmsContract):
    """Same suite, same expectations as the local backend; the server's rate limit is raised
    so that the suite's 250-subsidiary tests take seconds (pacing is tested below)."""

    @pytest.fixture
    def server(self, tmp_path: Path) -> Iterator[RunningServer]:
        with run_server(tmp_path / "tms.sqlite", rate_limit=5000.0) as server:
            yield server

    @pytest.fixture
    def backend(self, server: RunningServer) -> Iterator[TmsBackend]:
        with backend_for(server) as backend:
            yield backend

    @pytest.fixture
    def tms_side(self, server: RunningServer) -> Iterator[TmsSide]:
        yield server.store  # noqa: PT022 - overrides a generator fixture


def test_the_backend_satisfies_the_protocol(tms_server: RunningServer) -> None:
    with backend_for(tms_server) as backend:
        assert isinstance(backend, TmsBackend)


# -- what only a network client must get right -------------------------------------------------

SEARCH = ("POST", "/api/v1/subsidiaries/search")
TOKEN = ("POST", "/oauth/token")


@pytest.mark.parametrize("page_size", [100, 250, 1000])
def test_reading_1000_subsidiaries_costs_one_search_per_page_and_one_token(
    tmp_path: Path, page_size: int
) -> None:
    with run_server(tmp_path / "tms.sqlite") as server:  # default rate limit: 10/s
        for n in range(1000):
            server.store.ui_create(sample_fields(n))
        server.reset_counts()
        with backend_for(server, HttpOptions(page_size=page_size)) as backend:
            listed = backend.list_subsidiaries()
        assert len(listed) == 1000
        assert [s.fields for s in listed] == [sample_fields(n) for n in range(1000)]
        assert server.request_count(*SEARCH) == math.ceil(1000 / page_size)
        assert server.request_count(*TOKEN) == 1
        assert sum(server.state.request_counts.values()) == math.ceil(1000 / page_size) + 1


def test_paced_at_the_servers_rate_limit_the_client_sees_no_429(tmp_path: Path) -> None:
    """Default options against the default (Alvys-like) 10 requests/s per token."""
    with run_server(tmp_path / "tms.sqlite") as server:
        sub = server.store.ui_create(sample_fields(1))
        with backend_for(server, HttpOptions()) as backend:
            reads = backend.run_concurrently([lambda: backend.get_subsidiary(sub.tms_id)] * 25)
        assert reads == [server.store.get_subsidiary(sub.tms_id)] * 25
        time.sleep(0.2)
        assert not [line for line in server.log_lines if " 429 " in line]


def test_an_unpaced_client_is_slowed_by_429_and_still_finishes(tmp_path: Path) -> None:
    with run_server(tmp_path / "tms.sqlite", rate_limit=5.0) as server:
        sub = server.store.ui_create(sample_fields(1))
        greedy = HttpOptions(rate_limit=1000.0, rate_burst=100.0, backoff_initial=0.01)
        with backend_for(server, greedy) as backend:
            reads = [backend.get_subsidiary(sub.tms_id) for _ in range(12)]
        assert len(reads) == 12
        time.sleep(0.2)
        assert [line for line in server.log_lines if " 429 " in line]


def test_an_expired_token_is_replaced_and_the_call_succeeds(tms_server: RunningServer) -> None:
    sub = tms_server.store.ui_create(sample_fields(1))
    with backend_for(tms_server) as backend:
        backend.get_subsidiary(sub.tms_id)
        tms_server.state.tokens.expire_all()
        assert backend.get_subsidiary(sub.tms_id) == tms_server.store.get_subsidiary(sub.tms_id)
    assert tms_server.request_count(*TOKEN) == 2


def test_a_token_is_refreshed_before_it_expires(tmp_path: Path) -> None:
    with run_server(tmp_path / "tms.sqlite", token_ttl=1.0) as server:
        sub = server.store.ui_create(sample_fields(1))
        with backend_for(server) as backend:
            backend.get_subsidiary(sub.tms_id)
            time.sleep(1.0)
            backend.get_subsidiary(sub.tms_id)
        assert server.request_count(*TOKEN) == 2
        time.sleep(0.2)
        assert not [line for line in server.log_lines if " 401 " in line]


def test_wrong_client_credentials_are_one_clear_error_without_the_secret(
    tms_server: RunningServer,
) -> None:
    credentials = ClientCredentials(tms_server.client_id, Secret(CANARY_PASSWORD))
    backend = HttpBackend(tms_server.url, credentials, FAST)
    with backend, pytest.raises(TmsError) as refused:
        backend.list_subsidiaries()
    assert "RTSSYNC_TMS_CLIENT_SECRET" in str(refused.value)
    assert CANARY_PASSWORD not in str(refused.value)


def test_an_unreachable_tms_is_a_clear_error(tmp_path: Path) -> None:
    with run_server(tmp_path / "tms.sqlite") as server:
        url = server.url
    credentials = ClientCredentials("id", Secret("secret"))
    options = HttpOptions(max_attempts=2, backoff_initial=0.01, connect_timeout=1.0)
    backend = HttpBackend(url, credentials, options)
    with backend, pytest.raises(TmsError, match="could not be reached after 2 attempts"):
        backend.list_subsidiaries()


# -- retries that cannot do anything twice -----------------------------------------------------


def test_a_create_whose_response_was_lost_is_not_duplicated(tms_server: RunningServer) -> None:
    with backend_for(tms_server) as backend:
        backend.list_subsidiaries()  # token first, so the fault hits the create
        tms_server.state.faults.inject_next(Fault.DROP_AFTER)
        created = backend.create_subsidiary(sample_fields(1), idempotency_key="k-1")
    assert [s.tms_id for s in tms_server.store.list_subsidiaries()] == [created.tms_id]
    assert tms_server.request_count("POST", "/api/v1/subsidiaries") == 2


@pytest.mark.parametrize("write", EVERY_WRITE.values(), ids=EVERY_WRITE.keys())
def test_an_update_whose_response_was_lost_is_recognised_as_done(
    tms_server: RunningServer, write: Write
) -> None:
    """The first attempt is applied but its answer lost; the retry gets 412; the backend
    re-reads, sees its change is there, and returns it as the success it was."""
    with backend_for(tms_server) as backend:
        sub = TmsContract.configured(backend)
        tms_server.state.faults.inject_next(Fault.DROP_AFTER)
        result = write(backend, sub.tms_id, sub.etag)
    assert result == tms_server.store.get_subsidiary(sub.tms_id)
    assert result.etag != sub.etag


def test_a_real_conflict_behind_a_retry_is_still_a_conflict(tms_server: RunningServer) -> None:
    with backend_for(tms_server) as backend:
        sub = TmsContract.configured(backend)
        tms_server.store.ui_edit(sub.tms_id, notice_of_assignment="edited in the UI")
        tms_server.state.faults.inject_next(Fault.ERROR_503)
        with pytest.raises(ConflictError):
            backend.set_notice_of_assignment(sub.tms_id, "from git", if_match=sub.etag)
    assert tms_server.store.get_subsidiary(sub.tms_id).notice_of_assignment == "edited in the UI"


def apply_sequence(backend: HttpBackend) -> list[str]:
    """What an apply does: creates, then every kind of versioned write; returns the ids."""
    ids = []
    for n in range(3):
        sub = backend.create_subsidiary(sample_fields(n), idempotency_key=f"apply-{n}")
        sub = backend.set_notice_of_assignment(sub.tms_id, f"NOTICE {n}", if_match=sub.etag)
        sub = backend.set_invoicing(sub.tms_id, FACTORING, if_match=sub.etag)
        sub = backend.put_rts_ftp(
            sub.tms_id, FTP, credentials=login(CANARY_PASSWORD, f"rts_{n}"),
            credentials_revision=f"cr1-{n}", if_match=sub.etag,
        )  # fmt: skip
        sub = backend.record_applied(sub.tms_id, APPLIED, if_match=sub.etag)
        ids.append(sub.tms_id)
    first = backend.get_subsidiary(ids[0])
    first = backend.update_subsidiary(ids[0], sample_fields(10), if_match=first.etag)
    first = backend.put_rts_ftp(
        ids[0], SFTP, credentials=None, credentials_revision=None, if_match=first.etag
    )
    last = backend.get_subsidiary(ids[2])
    backend.remove_rts_ftp(ids[2], if_match=last.etag)
    return ids


FAULT_SEEDS = [1, 2, 3, 4, 5]


@pytest.mark.parametrize("seed", FAULT_SEEDS)
def test_through_20_percent_faults_an_apply_ends_exactly_as_intended(
    tmp_path: Path, seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    faults = FaultConfig(error_rate=0.1, drop_rate=0.1, seed=seed)
    with run_server(tmp_path / "tms.sqlite", faults=faults, rate_limit=1000.0) as server:
        with backend_for(server) as backend:
            ids = apply_sequence(backend)
            listed = backend.list_subsidiaries()
        store = server.store
        assert [s.tms_id for s in store.list_subsidiaries()] == ids  # no duplicate creates
        assert listed == store.list_subsidiaries()
        expected_fields = [sample_fields(10), sample_fields(1), sample_fields(2)]
        for n, (tms_id, fields) in enumerate(zip(ids, expected_fields, strict=True)):
            live = store.get_subsidiary(tms_id)
            assert live.fields == fields
            assert live.notice_of_assignment == f"NOTICE {n}"
            assert live.invoicing == FACTORING
            assert live.applied_from == APPLIED
            if n == 2:
                assert live.rts_ftp is None
            else:
                assert live.rts_ftp is not None
                assert live.rts_ftp.settings == (SFTP if n == 0 else FTP)
                assert live.rts_ftp.credentials_revision == f"cr1-{n}"
                assert store.password_matches(tms_id, Secret(CANARY_PASSWORD))
        time.sleep(0.2)
        log = server.log_lines
        assert any(" dropped " in line for line in log)
        assert any(" 503 " in line or " 500 " in line or " 429 " in line for line in log)
        assert CANARY_PASSWORD not in "\n".join(log)
    assert CANARY_PASSWORD not in caplog.text


def test_the_password_stays_out_of_errors_and_client_logs(
    tms_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with backend_for(tms_server) as backend:
        sub = TmsContract.configured(backend)
        secret = login(CANARY_PASSWORD)
        bad_port = FtpSettings(FtpProtocol.FTP, "devftp.rtsfinancial.com", 0, "/in")
        attempts: list[Callable[[], object]] = [
            lambda: backend.put_rts_ftp("sub_nope", FTP, credentials=secret,
                                        credentials_revision="r", if_match=sub.etag),
            lambda: backend.put_rts_ftp(sub.tms_id, FTP, credentials=secret,
                                        credentials_revision="r", if_match='"stale"'),
            lambda: backend.put_rts_ftp(sub.tms_id, bad_port, credentials=secret,
                                        credentials_revision="r", if_match=sub.etag),
        ]  # fmt: skip
        messages = []
        for attempt in attempts:
            with pytest.raises(TmsError) as refused:
                attempt()
            messages.append(str(refused.value))
    assert "RTS FTP" in messages[0]
    assert "port" in messages[2]
    for message in messages:
        assert CANARY_PASSWORD not in message
    assert CANARY_PASSWORD not in caplog.text
    assert "Bearer" not in caplog.text


# -- settings ----------------------------------------------------------------------------------


def settings_for(url: str, tmp_path: Path, **options: str) -> Settings:
    tms = TmsSettings(kind=TmsKind.HTTP, url=url, options=options)
    return Settings(root=tmp_path, source=tmp_path / "rtssync.yaml", tms=tms)


def test_from_settings_reads_the_url_the_environment_and_the_options(
    tms_server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in tms_server.env().items():
        monkeypatch.setenv(name, value)
    tms_server.store.ui_create(sample_fields(1))
    backend = HttpBackend.from_settings(settings_for(tms_server.url, tmp_path, page_size="7"))
    with backend:
        assert backend.options.page_size == 7
        assert [s.fields for s in backend.list_subsidiaries()] == [sample_fields(1)]


def test_from_settings_needs_the_client_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RTSSYNC_TMS_CLIENT_ID", raising=False)
    monkeypatch.delenv("RTSSYNC_TMS_CLIENT_SECRET", raising=False)
    with pytest.raises(RtssyncError, match="RTSSYNC_TMS_CLIENT_ID"):
        HttpBackend.from_settings(settings_for("http://127.0.0.1:1", tmp_path))


def test_from_settings_refuses_a_malformed_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RTSSYNC_TMS_CLIENT_ID", "id")
    monkeypatch.setenv("RTSSYNC_TMS_CLIENT_SECRET", "secret")
    with pytest.raises(RtssyncError, match=r"tms\.options\.page_size"):
        HttpBackend.from_settings(settings_for("http://127.0.0.1:1", tmp_path, page_size="x"))


@pytest.mark.parametrize("seed", [11, 12])
def test_concurrent_writes_through_faults_end_as_intended(tmp_path: Path, seed: int) -> None:
    """What an engine applying several subsidiaries at once does, through 20% faults."""
    faults = FaultConfig(error_rate=0.1, drop_rate=0.1, seed=seed)
    with run_server(tmp_path / "tms.sqlite", faults=faults, rate_limit=1000.0) as server:
        with backend_for(server) as backend:

            def configure(n: int) -> LiveSubsidiary:
                sub = backend.create_subsidiary(sample_fields(n), idempotency_key=f"c-{n}")
                sub = backend.set_notice_of_assignment(sub.tms_id, f"N{n}", if_match=sub.etag)
                return backend.put_rts_ftp(
                    sub.tms_id, FTP, credentials=login(username=f"u{n}"),
                    credentials_revision=f"r{n}", if_match=sub.etag,
                )  # fmt: skip

            done = backend.run_concurrently([partial(configure, n) for n in range(8)])
        stored = {s.tms_id: s for s in server.store.list_subsidiaries()}
        assert len(stored) == 8  # no duplicate creates
        assert {s.tms_id: s for s in done} == stored
        assert sorted(s.fields.name for s in done) == sorted(
            sample_fields(n).name for n in range(8)
        )
        assert all(s.rts_ftp is not None and s.rts_ftp.credentials_revision for s in done)
