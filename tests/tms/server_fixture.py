"""The reference TMS server on loopback, for any test that needs a real TMS over HTTP.

Stable API (other engineers' end-to-end tests use it):

    from tests.tms.server_fixture import run_server, tms_server  # tms_server is a fixture

    with run_server(tmp_path / "tms.sqlite") as server:
        server.url, server.client_id, server.client_secret, server.env()
        server.store            # a LocalBackend on the same file (set-up, ui_edit, checks)
        server.request_count("POST", "/api/v1/subsidiaries/search")
        server.log_lines        # what the server logged, one string per record
        server.state            # the ServerState (tokens.expire_all(), request_counts, ...)
        server.state.faults.inject_next(Fault.DROP_AFTER)   # exact fault scenarios
        with server.http_backend() as backend: ...          # the http backend, pointed here

Options of ``run_server`` go into :class:`rtssync.tms.server.ServerConfig` (``rate_limit``,
``token_ttl``, ``faults``, ``max_body_bytes``, ...). The server runs on a thread of the test
process, so tests can inspect its state directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rtssync.model import Secret
from rtssync.tms.factory import CLIENT_ID_ENV, CLIENT_SECRET_ENV
from rtssync.tms.http import ClientCredentials, HttpBackend, HttpOptions
from rtssync.tms.local import LocalBackend
from rtssync.tms.serve import ServerThread
from rtssync.tms.server import ServerConfig, ServerState, create_app

TEST_CLIENT_ID = "rtssync-test-client"
TEST_CLIENT_SECRET = "test-client-secret-0f3c"


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass
class RunningServer:
    url: str
    client_id: str
    client_secret: str
    store: LocalBackend
    state: ServerState
    db_path: Path
    log_lines: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The environment an rtssync process needs to talk to this server."""
        return {CLIENT_ID_ENV: self.client_id, CLIENT_SECRET_ENV: self.client_secret}

    def request_count(self, method: str, route: str) -> int:
        """Requests the server received for a route template, e.g.
        ``("POST", "/api/v1/subsidiaries/search")`` - counted server-side, faults included."""
        return self.state.request_counts[f"{method} {route}"]

    def reset_counts(self) -> None:
        self.state.request_counts.clear()

    def http_backend(self, options: HttpOptions | None = None) -> HttpBackend:
        """An HttpBackend for this server (the caller closes it)."""
        credentials = ClientCredentials(self.client_id, Secret(self.client_secret))
        return HttpBackend(self.url, credentials, options)


@contextmanager
def run_server(db_path: Path, **config: Any) -> Iterator[RunningServer]:
    """Start the reference server over the SQLite file ``db_path``; stop it on exit."""
    options: dict[str, Any] = {
        "client_id": TEST_CLIENT_ID,
        "client_secret": Secret(TEST_CLIENT_SECRET),
        **config,
    }
    server_config = ServerConfig(**options)
    handler = _ListHandler()
    logger = logging.getLogger("rtssync.tms.server")
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.DEBUG)
    with LocalBackend(db_path) as store:
        app = create_app(store, server_config)
        try:
            with ServerThread(app) as thread:
                yield RunningServer(
                    url=thread.url,
                    client_id=server_config.client_id,
                    client_secret=server_config.client_secret.reveal(),
                    store=store,
                    state=app.state.tms,
                    db_path=db_path,
                    log_lines=handler.lines,
                )
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous_level)


@pytest.fixture
def tms_server(tmp_path: Path) -> Iterator[RunningServer]:
    """The reference server with default settings over a fresh SQLite file."""
    with run_server(tmp_path / "tms.sqlite") as server:
        yield server
