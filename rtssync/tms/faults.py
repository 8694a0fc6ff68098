"""Fault injection for the reference server: latency, error answers and dropped connections.

Clients must survive what a real TMS on the internet does to them. The faults are drawn from a
seeded random generator, so a failing test names a seed that reproduces it.

A dropped connection is closed without any response, either *before* the request is handled
(nothing happened) or *after* (the change was made, the client just never hears of it) - the
second is the case that makes retries dangerous, and exactly what idempotency keys and If-Match
must make safe.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class Fault(Enum):
    NONE = "none"
    ERROR_500 = "500"
    ERROR_503 = "503"
    ERROR_429 = "429"
    DROP_BEFORE = "drop-before"
    DROP_AFTER = "drop-after"


ERROR_FAULTS = (Fault.ERROR_500, Fault.ERROR_503, Fault.ERROR_429)
DROP_FAULTS = (Fault.DROP_BEFORE, Fault.DROP_AFTER)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """``error_rate`` and ``drop_rate`` are fractions of requests (together at most 1)."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("fault latency must not be negative")
        for name, rate in (("error", self.error_rate), ("drop", self.drop_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault {name} rate must be between 0 and 1")
        if self.error_rate + self.drop_rate > 1.0:
            raise ValueError("fault error rate and drop rate together must be at most 1")

    @property
    def active(self) -> bool:
        return self.latency_ms > 0 or self.error_rate > 0 or self.drop_rate > 0


class FaultInjector:
    """Decides, request by request, which fault (if any) to inject. Thread-safe."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()
        self._scripted: deque[Fault] = deque()

    def inject_next(self, *faults: Fault) -> None:
        """Test hook: the next requests get exactly these faults (``Fault.NONE`` for none),
        before any random ones - for scenarios such as "the first attempt's response is lost"."""
        with self._lock:
            self._scripted.extend(faults)

    def decide(self) -> Fault:
        with self._lock:
            if self._scripted:
                return self._scripted.popleft()
            draw = self._rng.random()
            if draw < self.config.error_rate:
                return self._rng.choice(ERROR_FAULTS)
            if draw < self.config.error_rate + self.config.drop_rate:
                return self._rng.choice(DROP_FAULTS)
            return Fault.NONE


# -- dropping a connection ---------------------------------------------------------------------
# ASGI gives an application no handle on its connection, and an app that returns without a
# response makes uvicorn answer 500. So uvicorn runs with ConnectionTrackingProtocol, which
# records each connection's transport under its (server, client) address pair; the app looks its
# request's pair up and aborts the transport.

_transports: dict[tuple[Any, Any], asyncio.Transport] = {}


def _connection_key(server: Any, client: Any) -> tuple[Any, Any]:
    return (tuple(server) if server else None, tuple(client) if client else None)


class ConnectionTrackingProtocol(H11Protocol):
    """uvicorn's h11 protocol, remembering each open connection's transport (and with
    TCP_NODELAY)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn writes a response's head and body separately; with Nagle on, the body waits
        # for the client's delayed ACK (~40 ms per request).
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _transports[_connection_key(self.server, self.client)] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        _transports.pop(_connection_key(self.server, self.client), None)
        super().connection_lost(exc)


async def drop_connection(scope: Any) -> bool:
    """Abort the connection ``scope`` arrived on, without a response. False if it is unknown
    (e.g. an in-process ASGI transport, which has no connection to drop)."""
    transport = _transports.get(_connection_key(scope.get("server"), scope.get("client")))
    if transport is None:
        return False
    transport.abort()
    # Let connection_lost run, so uvicorn knows the client is gone and sends no 500.
    await asyncio.sleep(0)
    return True


def has_connection(scope: Any) -> bool:
    """Whether the request came over a tracked connection that :func:`drop_connection` can
    drop."""
    return _connection_key(scope.get("server"), scope.get("client")) in _transports
