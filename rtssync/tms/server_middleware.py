"""ASGI middleware of the reference server: access log and counts, body size limit, faults.

Pure ASGI (not BaseHTTPMiddleware) so that a fault can drop the connection underneath a request
and the size limit can refuse a body before any of it is read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rtssync.tms.faults import DROP_FAULTS, Fault, FaultInjector, drop_connection, has_connection
from rtssync.tms.problems import problem_response

log = logging.getLogger("rtssync.tms.server")

DROPPED = "dropped"


def route_label(scope: Scope, routes: Sequence[BaseRoute] = ()) -> str:
    """The route's template (``/api/v1/subsidiaries/{id}``), never the raw path: a path is
    client input and could carry anything, a template cannot. A request answered before routing
    (an injected fault, a 413) is matched against ``routes`` here."""
    route = scope.get("route")
    if route is None:
        route = next((r for r in routes if r.matches(scope)[0] is not Match.NONE), None)
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(no route)"


class AccessLog:
    """One log line per request - method, route, status, duration - and per-route counts.

    Outermost, so it also turns any unexpected exception into a bare 500 problem whose log
    line names only the exception's type (its message could quote request data).
    """

    def __init__(
        self, app: ASGIApp, counts: Counter[str], routes: Sequence[BaseRoute] = ()
    ) -> None:
        self.app = app
        self.counts = counts
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def remember_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                # Counted before the client can see the answer, so a test that just got its
                # response reads an exact count.
                self.counts[f"{scope['method']} {route_label(scope, self.routes)}"] += 1
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        except Exception as error:
            kind, method = type(error).__name__, scope["method"]
            log.error("unhandled %s in %s %s", kind, method, route_label(scope, self.routes))
            if not status:
                await problem_response(500)(scope, receive, remember_status)
        finally:
            label = f"{scope['method']} {route_label(scope, self.routes)}"
            if not status:
                self.counts[label] += 1  # dropped: counted now, it never got an answer
            outcome = DROPPED if scope.get(DROPPED) else (str(status[0]) if status else "-")
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info("%s %s %.1fms", label, outcome, elapsed_ms)


class BodyLimit:
    """413 when the declared Content-Length is over the limit (bodies without one are counted
    as they are read, by the handlers)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._declared_size(scope) > self.max_bytes:
            detail = f"the request body is over the limit of {self.max_bytes} bytes"
            await problem_response(413, detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _declared_size(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0


def is_test_hook(path: str) -> bool:
    """Test hooks (UI edits) are exempt from faults: they stage a scenario, not traffic."""
    return path.startswith("/api/v1/ui/") or path.endswith("/ui-edit")


class FaultInjection:
    """Latency, 500/503/429 answers and dropped connections, as :mod:`rtssync.tms.faults`
    decides."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_test_hook(scope["path"]):
            await self.app(scope, receive, send)
            return
        config = self.injector.config
        if config.latency_ms > 0:
            await asyncio.sleep(config.latency_ms / 1000)
        fault = self.injector.decide()
        if fault in DROP_FAULTS and not has_connection(scope):
            fault = Fault.ERROR_503  # an in-process transport has no connection to drop
        await self._with_fault(fault, scope, receive, send)

    async def _with_fault(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        if fault is Fault.NONE:
            await self.app(scope, receive, send)
        elif fault is Fault.DROP_BEFORE:
            scope[DROPPED] = True
            await drop_connection(scope)
        elif fault is Fault.DROP_AFTER:
            await self.app(scope, receive, _swallow)
            scope[DROPPED] = True
            await drop_connection(scope)
        else:
            await _injected_error(int(fault.value))(scope, receive, send)


async def _swallow(message: Message) -> None:
    """A send that loses the response, as a dropped connection does."""


def _injected_error(status: int) -> Any:
    # Retry-After 0: injected faults test the retry logic, not the client's patience.
    headers = {"Retry-After": "0"} if status in (429, 503) else {}
    return problem_response(status, "injected fault (reference server test mode)", headers=headers)
