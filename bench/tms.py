"""A TMS for the benchmark: populated through the local store, served by the reference server.

Populating goes straight through :class:`LocalBackend` (no HTTP, no rate limit), so a 10,000
subsidiary TMS takes seconds rather than the 80 minutes 10 requests/s would need. Requests are
counted server-side, from the server's own access log, so the figures include every retry and
every 429 the client never reports.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import document
from rtssync.model import AppliedFrom, DesiredSubsidiary, FtpCredentials, Secret
from rtssync.tms.faults import FaultConfig
from rtssync.tms.http import ClientCredentials, HttpBackend, HttpOptions
from rtssync.tms.local import LocalBackend
from rtssync.tms.serve import ServerThread
from rtssync.tms.server import ServerConfig, create_app

CLIENT_ID = "rtssync-bench"
CLIENT_SECRET = "bench-client-secret"
TOKEN_ROUTE = "POST /oauth/token"
THROTTLED = "429"


def populate(store: LocalBackend, desired: Sequence[DesiredSubsidiary]) -> None:
    """Make the TMS what an earlier apply of ``desired`` left: a plan then has nothing to do.

    ``desired`` is in generation order (key order), so position n is generated subsidiary n and
    its plaintext username is known without decrypting anything.
    """
    for n, wanted in enumerate(desired):
        assert wanted.factoring is not None
        live = store.create_subsidiary(wanted.fields, idempotency_key=f"bench-{wanted.key}")
        live = store.set_invoicing(live.tms_id, wanted.invoicing, if_match=live.etag)
        live = store.set_notice_of_assignment(
            live.tms_id, wanted.notice_of_assignment, if_match=live.etag)
        login = FtpCredentials(_username(n), Secret(f"bench-password-{n}"))
        live = store.put_rts_ftp(
            live.tms_id, wanted.factoring.ftp, credentials=login,
            credentials_revision=wanted.factoring.credentials.revision, if_match=live.etag)
        store.record_applied(live.tms_id, AppliedFrom("bench", _now()), if_match=live.etag)


def _username(n: int) -> str:
    ftp = document(n)["factoring"]["ftp"]
    assert isinstance(ftp, dict)
    return str(ftp["username"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Tally(logging.Handler):
    """Counts the server's access-log lines: requests per route and per status."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.routes: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args  # AccessLog: (route, status, ms) at INFO; errors are logged apart
        if record.levelno == logging.INFO and isinstance(args, tuple) and len(args) == 3:
            self.routes[str(args[0])] += 1
            self.statuses[str(args[1])] += 1

    @property
    def total(self) -> int:
        return sum(self.routes.values())

    @property
    def throttled(self) -> int:
        return self.statuses[THROTTLED]

    def reset(self) -> None:
        self.routes.clear()
        self.statuses.clear()


@dataclass(frozen=True, slots=True)
class Served:
    url: str
    tally: Tally

    def client(self, options: HttpOptions | None = None) -> HttpBackend:
        """The http backend as a user gets it (default options unless told)."""
        credentials = ClientCredentials(CLIENT_ID, Secret(CLIENT_SECRET))
        return HttpBackend(self.url, credentials, options)


@contextmanager
def serve(db: Path, *, rate_limit: float, latency_ms: float) -> Iterator[Served]:
    """The reference server over ``db`` on loopback, with its rate limit and injected latency."""
    config = ServerConfig(
        client_id=CLIENT_ID, client_secret=Secret(CLIENT_SECRET), rate_limit=rate_limit,
        faults=FaultConfig(latency_ms=latency_ms),
    )
    logger = logging.getLogger("rtssync.tms.server")
    tally, level = Tally(), logger.level
    logger.addHandler(tally)
    logger.setLevel(logging.INFO)
    try:
        with LocalBackend(db) as store, ServerThread(create_app(store, config)) as thread:
            yield Served(thread.url, tally)
    finally:
        logger.removeHandler(tally)
        logger.setLevel(level)
