"""One HTTP conversation with a TMS API: token, pacing, retries, problems - no endpoints.

:class:`ApiClient` is what :class:`~rtssync.tms.http.HttpBackend` (and the alvys adapter) send
every request through, so these rules hold for every call:

* **One token, reused**: fetched on first use, refreshed shortly before it expires or when the
  server says 401, never per request (token endpoints are slow and separately limited).
* **Retries**: 5xx, 429 (honouring Retry-After) and connection errors are retried with
  exponential backoff and full jitter. Which calls are *safe* to retry is the caller's business:
  :attr:`Attempted.attempts` tells it whether an earlier attempt's fate is unknown.
* **Pacing**: a client-side token bucket keeps requests under the server's per-token limit, so a
  large apply sees few 429s instead of many.
* **Bounded concurrency**: :meth:`ApiClient.run_concurrently` runs independent calls on a small
  thread pool (the pacing still holds).
* **No secrets out**: no log line or exception carries a request body, the Authorization header,
  the client secret or a password; problem details are scrubbed of them in case a server echoes.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from rtssync import __version__
from rtssync.errors import ConflictError, NotFoundError, RtssyncError, TmsError
from rtssync.model import Secret
from rtssync.tms.factory import CLIENT_ID_ENV, CLIENT_SECRET_ENV
from rtssync.tms.ratelimit import TokenBucket

log = logging.getLogger("rtssync.tms.http")

DEFAULT_TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a password
_POOL_PREFIX = "rtssync-tms-http"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """OAuth2 client credentials. ``audience`` is sent when set (Alvys requires one)."""

    client_id: str
    client_secret: Secret
    audience: str | None = None


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Tuning. The defaults suit Alvys's 10 requests/s per token."""

    page_size: int = 100
    """Subsidiaries per search request (1..1000)."""
    rate_limit: float = 9.0
    """Requests per second this client sends at most (keep it under the server's limit)."""
    rate_burst: float = 1.0
    """Requests that may go back to back; 1 paces evenly, so arrivals cannot bunch up."""
    max_workers: int = 4
    """Threads for :meth:`HttpBackend.run_concurrently` and parallel page reads."""
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_attempts: int = 8
    """Attempts per request, the first included."""
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    token_refresh_margin: float = 30.0
    """Refresh a token this many seconds (at most a tenth of its lifetime) before it expires."""

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 1000:
            raise RtssyncError("the TMS page size must be between 1 and 1000")
        if self.rate_limit <= 0 or self.rate_burst < 1 or self.max_workers < 1:
            raise RtssyncError("the TMS rate limit, burst and workers must be positive")
        if self.max_attempts < 1 or self.timeout <= 0 or self.connect_timeout <= 0:
            raise RtssyncError("the TMS timeouts and attempts must be positive")


class _RetryableStatus(Exception):
    """A response worth retrying (5xx, 429); carries the server's Retry-After, if any."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = _retry_after_seconds(response.headers.get("retry-after"))


def _retry_after_seconds(value: str | None) -> float:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110); 0 if absent/garbled."""
    if not value:
        return 0.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass
class Attempted:
    """A final response and how many attempts it took (>1: an earlier attempt's fate is
    unknown - it may have been applied)."""

    response: httpx.Response
    attempts: int


@dataclass
class _Token:
    value: str
    refresh_at: float


class ApiClient:
    """Sends requests to one TMS API with a reused token, pacing and retries."""

    def __init__(
        self,
        base_url: str,
        credentials: ClientCredentials,
        options: HttpOptions,
        *,
        token_url: str = DEFAULT_TOKEN_PATH,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.options = options
        self._credentials = credentials
        self._token_url = token_url
        timeout = httpx.Timeout(options.timeout, connect=options.connect_timeout)
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport or _nodelay_transport(options.max_workers),
            headers={"User-Agent": f"rtssync/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
        )
        self._limiter = TokenBucket(options.rate_limit, options.rate_burst)
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def run_concurrently(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Run independent calls (e.g. writes to different subsidiaries) on the backend's thread
        pool; results in the order given. The first exception is raised after all finished."""
        if len(calls) <= 1 or threading.current_thread().name.startswith(_POOL_PREFIX):
            # Inline inside a pool thread: waiting there on the same pool could deadlock it.
            return [call() for call in calls]
        futures = [self._executor().submit(call) for call in calls]
        errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error
        return [f.result() for f in futures]

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.options.max_workers, thread_name_prefix=_POOL_PREFIX
                )
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        self._client.close()

    # -- one request, with token, pacing and retries --------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        authenticated: bool = True,
    ) -> Attempted:
        """Send with retries; return the final non-retryable response (any status)."""
        retrying = Retrying(
            stop=stop_after_attempt(self.options.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type((_RetryableStatus, httpx.TransportError)),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:  # swallows a retryable failure; the loop then tries again
                    response = self._send(method, path, json, headers, authenticated)
                    return Attempted(response, attempt.retry_state.attempt_number)
        except _RetryableStatus as error:
            raise self.problem_error(error.response, what, secrets) from None
        except httpx.TransportError as error:
            raise TmsError(
                f"{what}: the TMS at {self._client.base_url} could not be reached after "
                f"{self.options.max_attempts} attempts ({type(error).__name__}); check tms.url "
                "in rtssync.yaml and that the TMS is up"
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(
            multiplier=self.options.backoff_initial, max=self.options.backoff_max
        )(state)
        error = state.outcome.exception() if state.outcome else None
        retry_after = error.retry_after if isinstance(error, _RetryableStatus) else 0.0
        return max(backoff, min(retry_after, 300.0))

    def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        authenticated: bool,
    ) -> httpx.Response:
        """One attempt. A 401 gets one immediate resend with a fresh token."""
        response = self._send_once(method, path, body, headers, authenticated)
        if response.status_code == 401 and authenticated:
            self._forget_token()
            response = self._send_once(method, path, body, headers, authenticated)
        if response.status_code in RETRYABLE_STATUSES:
            raise _RetryableStatus(response)
        return response

    def _send_once(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        authenticated: bool,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if authenticated:
            all_headers["Authorization"] = f"Bearer {self._access_token()}"
        self._limiter.acquire()
        started = time.perf_counter()
        response = self._client.request(method, path, json=body, headers=all_headers)
        response.read()
        log.debug(
            "%s %s -> %s (%.0f ms)",
            method,
            path.split("?")[0],
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    # -- tokens ---------------------------------------------------------------------------------

    def _access_token(self) -> str:
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token.refresh_at:
                self._token = self._fetch_token()
            return self._token.value

    def _forget_token(self) -> None:
        with self._token_lock:
            self._token = None

    def _fetch_token(self) -> _Token:
        what = "get an access token"
        secret = self._credentials.client_secret.reveal()
        body: dict[str, str] = {
            "client_id": self._credentials.client_id,
            "client_secret": secret,
            "grant_type": "client_credentials",
        }
        if self._credentials.audience is not None:
            body["audience"] = self._credentials.audience
        result = self.call(
            "POST", self._token_url, json=body, what=what, secrets=[secret],
            authenticated=False,
        )  # fmt: skip
        if result.response.status_code in (400, 401, 403):
            raise TmsError(
                f"the TMS refused the client credentials ({CLIENT_ID_ENV} / "
                f"{CLIENT_SECRET_ENV}): " + _problem_summary(result.response, [secret])
            )
        document = self.json_object(result.response, what, [secret])
        token, expires_in = document.get("access_token"), document.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise TmsError(f"{what}: the token response lacks access_token or expires_in")
        margin = min(self.options.token_refresh_margin, float(expires_in) / 10)
        return _Token(token, time.monotonic() + float(expires_in) - margin)

    # -- responses ------------------------------------------------------------------------------

    def json_object(
        self, response: httpx.Response, what: str, secrets: Sequence[str] = ()
    ) -> dict[str, Any]:
        if not response.is_success:
            raise self.problem_error(response, what, secrets)
        try:
            document = response.json()
        except ValueError:
            raise TmsError(f"{what}: the TMS sent a response that is not JSON") from None
        if not isinstance(document, dict):
            raise TmsError(f"{what}: the TMS sent a response that is not a JSON object")
        return document

    def _is_token_request(self, response: httpx.Response) -> bool:
        return response.request.url.path.endswith(httpx.URL(self._token_url).path)

    def problem_error(
        self, response: httpx.Response, what: str, secrets: Sequence[str]
    ) -> TmsError:
        status = response.status_code
        if status == 404 and self._is_token_request(response):
            # No token endpoint there: the URL is wrong, not some subsidiary missing.
            return TmsError(f"{what}: {response.request.url} was not found; check tms.url in "
                            "rtssync.yaml (it must be the TMS API's base URL)")
        if status == 404:
            return NotFoundError(f"{what}: no such subsidiary in the TMS")
        if status == 412:
            return ConflictError(
                f"{what}: the subsidiary changed in the TMS since it was read; plan again"
            )
        hidden = [*secrets, self._credentials.client_secret.reveal()]
        return TmsError(f"{what}: " + _problem_summary(response, hidden))


def _nodelay_transport(max_workers: int) -> httpx.HTTPTransport:
    """Nagle's algorithm holds a request's body until the headers are acknowledged, and the
    server delays that ACK (~40 ms): TCP_NODELAY makes small JSON requests fast."""
    return httpx.HTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        limits=httpx.Limits(max_connections=max_workers + 2),
    )


def _problem_summary(response: httpx.Response, hidden: Sequence[str]) -> str:
    """``status title: detail (field: message; ...)`` from a problem document, with any secret
    the server might have echoed replaced by ***."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    title = str(problem.get("title") or response.reason_phrase or "error")
    text = f"HTTP {response.status_code} {title}"
    if problem.get("detail"):
        text += f": {problem['detail']}"
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:
        text += " (" + "; ".join(_error_text(e) for e in errors[:10]) + ")"
    return _redact(text, hidden)


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        return f"{error.get('field', '?')}: {error.get('message', '?')}"
    return str(error)


def _redact(text: str, hidden: Sequence[str]) -> str:
    """``text`` with each hidden value replaced by ***, also as a TMS echoing a request would
    spell it: JSON-escaped (both ways), URL-encoded, base64."""
    for value in hidden:
        for spelling in sorted(_spellings(value), key=len, reverse=True):
            text = text.replace(spelling, "***")
    return text


def _spellings(value: str) -> set[str]:
    if not value:
        return set()
    raw = value.encode("utf-8")
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
            urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value),
            base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()} - {""}


# -- settings -----------------------------------------------------------------------------------


def credentials_from_env(audience: str | None = None) -> ClientCredentials:
    client_id = os.environ.get(CLIENT_ID_ENV, "").strip()
    client_secret = os.environ.get(CLIENT_SECRET_ENV, "")
    if not client_id or not client_secret:
        raise RtssyncError(
            f"the TMS backend needs {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} in the environment "
            "(the OAuth2 client credentials for the TMS API)"
        )
    return ClientCredentials(client_id, Secret(client_secret), audience)


_NUMERIC_OPTIONS: dict[str, type] = {
    "page_size": int,
    "rate_limit": float,
    "rate_burst": float,
    "max_workers": int,
    "timeout": float,
    "connect_timeout": float,
    "max_attempts": int,
    "backoff_initial": float,
    "backoff_max": float,
}


def options_from_settings(options: Mapping[str, str]) -> HttpOptions:
    """HttpOptions from ``tms.options`` (strings in rtssync.yaml); unknown keys are left to the
    adapter that reads them."""
    values: dict[str, Any] = {}
    for name, kind in _NUMERIC_OPTIONS.items():
        if name in options:
            try:
                values[name] = kind(options[name])
            except ValueError:
                raise RtssyncError(
                    f"tms.options.{name} must be a {kind.__name__}, not {options[name]!r}"
                ) from None
    return HttpOptions(**values)
