"""The http backend against the reference server over real loopback HTTP.

First the whole backend contract (tests/tms/contract.py), exactly as the local backend passes
it; then what only a network client has to get right: tokens, paging cost, rate limits,
retries through injected faults, and secrets kept out of errors and logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtssync.model import Secret
from rtssync.tms.base import TmsBackend
from rtssync.tms.http import ClientCredentials, HttpBackend, HttpOptions

from .contract import TmsContract, TmsSide
from .server_fixture import RunningServer, run_server, tms_server

__all__ = ["tms_server"]  # the fixture, imported so pytest finds it here

FAST = HttpOptions(rate_limit=1000.0, rate_burst=50.0, backoff_initial=0.01, backoff_max=0.2)
"""For suites that are not about pacing: the contract suite makes hundreds of calls."""


def backend_for(server: RunningServer, options: HttpOptions = FAST, **kwargs: Any) -> HttpBackend:
    credentials = ClientCredentials(server.client_id, Secret(server.client_secret))
    return HttpBackend(server.url, credentials, options, **kwargs)


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
