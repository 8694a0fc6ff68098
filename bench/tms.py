"""A TMS for the benchmark: populated through the local store, served by the reference server.

Populating goes straight through :class:`LocalBackend` (no HTTP, no rate limit), so a 10,000
subsidiary TMS takes seconds rather than the 80 minutes 10 requests/s would need. The server is
``rtssync tms serve`` (``--rate-limit``, ``--fault-latency-ms``) in a process of its own, as a
TMS would be; requests are counted server-side, from its access log, so the figures include
every retry and every 429 the client never reports.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import document
from rtssync.model import AppliedFrom, DesiredSubsidiary, FtpCredentials, Secret
from rtssync.tms.factory import CLIENT_ID_ENV, CLIENT_SECRET_ENV
from rtssync.tms.http import ClientCredentials, HttpBackend, HttpOptions
from rtssync.tms.local import LocalBackend

CLIENT_ID = "rtssync-bench"
CLIENT_SECRET = "bench-client-secret"
TOKEN_ROUTE = "POST /oauth/token"
THROTTLED = "429"
ACCESS_LINE = re.compile(r"rtssync\.tms\.server (?P<route>[A-Z]+ \S+) (?P<status>\S+) [0-9.]+ms$")
SETTLE_SECONDS = 0.3
STARTUP_SECONDS = 30.0


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


class Tally:
    """Counts the server's access-log lines (``rtssync.tms.server METHOD ROUTE STATUS 1.2ms``):
    requests per route and per status. Fed from the server process's stderr."""

    def __init__(self) -> None:
        self.routes: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()

    def feed(self, line: str) -> None:
        found = ACCESS_LINE.search(line)
        if found is not None:
            with self._lock:
                self.routes[found["route"]] += 1
                self.statuses[found["status"]] += 1

    def settle(self) -> None:
        """The server logs a request after sending its response: give the last line time to
        arrive before counting."""
        time.sleep(SETTLE_SECONDS)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.routes.values())

    @property
    def throttled(self) -> int:
        with self._lock:
            return self.statuses[THROTTLED]

    def reset(self) -> None:
        with self._lock:
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
    """``rtssync tms serve`` over ``db`` in a process of its own, as a TMS would be: its work
    does not compete with the client's for this process's interpreter lock."""
    port = _free_port()
    env = dict(os.environ, **{CLIENT_ID_ENV: CLIENT_ID, CLIENT_SECRET_ENV: CLIENT_SECRET})
    command = [sys.executable, "-m", "rtssync", "tms", "serve", "--db", str(db),
               "--port", str(port), "--rate-limit", f"{rate_limit:g}",
               "--fault-latency-ms", f"{latency_ms:g}"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    tally = Tally()
    reader = threading.Thread(target=_read_log, args=(server, tally), daemon=True)
    reader.start()
    try:
        _wait_until_listening(server, port)
        yield Served(f"http://127.0.0.1:{port}", tally)
    finally:
        server.terminate()
        server.wait(timeout=10)
        reader.join(timeout=5)


def _read_log(server: subprocess.Popen[str], tally: Tally) -> None:
    assert server.stderr is not None
    for line in server.stderr:
        tally.feed(line)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(server: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"rtssync tms serve exited with status {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("rtssync tms serve did not start listening")
