"""The http backend: a client for the TMS contract in schemas/tms-api.yaml (DESIGN §5).

What it does that a naive client would not, and why:

* **One token, reused**: fetched on first use, refreshed shortly before it expires or when the
  server says 401, never per request (token endpoints are slow and separately limited).
* **Whole pages**: the search items carry everything a :class:`LiveSubsidiary` needs, so reading
  N subsidiaries costs ceil(N / page_size) searches and no per-subsidiary GET.
* **Retries that are safe**: 5xx, 429 (honouring Retry-After) and connection errors are retried
  with exponential backoff and full jitter - reads always; creates because they carry an
  Idempotency-Key (the server replays the first response); updates because they carry If-Match.
  An update whose first attempt did succeed but whose response was lost comes back 412 on the
  retry: the backend then re-reads the subsidiary and, if it already is what the update intended,
  returns it as the success it was. Otherwise the 412 is a real conflict (ConflictError).
* **Staying under the rate limit**: a client-side token bucket paces requests below the server's
  per-token limit, so a large apply sees few 429s instead of many.
* **Bounded concurrency**: :meth:`HttpBackend.run_concurrently` runs independent calls on a small
  thread pool (the rate limiter still paces them).
* **No secrets out**: no log line or exception carries a request body, the Authorization header,
  the client secret or a password; problem details are scrubbed of both in case a server echoes.
"""

from __future__ import annotations

import email.utils
import logging
import math
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from rtssync import __version__
from rtssync.config import Settings
from rtssync.errors import ConflictError, NotFoundError, RtssyncError, TmsError
from rtssync.model import (
    AppliedFrom,
    FtpCredentials,
    FtpSettings,
    Invoicing,
    LiveSubsidiary,
    Secret,
    SubsidiaryFields,
)
from rtssync.tms import wire
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


@dataclass(frozen=True, slots=True)
class ApiPaths:
    """Where each operation lives; ``{id}`` is the subsidiary id. ``None``: not available (the
    backend then raises :meth:`HttpBackend.missing_path`'s error)."""

    token_url: str = DEFAULT_TOKEN_PATH
    search: str | None = "/api/v1/subsidiaries/search"
    create: str | None = "/api/v1/subsidiaries"
    subsidiary: str | None = "/api/v1/subsidiaries/{id}"
    notice_of_assignment: str | None = "/api/v1/subsidiaries/{id}/notice-of-assignment"
    invoicing: str | None = "/api/v1/subsidiaries/{id}/invoicing"
    rts_ftp: str | None = "/api/v1/subsidiaries/{id}/rts-ftp"
    applied_from: str | None = "/api/v1/subsidiaries/{id}/applied-from"


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
class _Attempted:
    """A final response and how many attempts it took (>1: an earlier attempt's fate is
    unknown - it may have been applied)."""

    response: httpx.Response
    attempts: int


@dataclass
class _Token:
    value: str
    refresh_at: float


class HttpBackend:
    """:class:`~rtssync.tms.base.TmsBackend` over the contract's REST API.

    ``transport`` is for tests of adapters to clouds that cannot run here (httpx.MockTransport);
    everything else talks to a real server.
    """

    def __init__(
        self,
        base_url: str,
        credentials: ClientCredentials,
        options: HttpOptions | None = None,
        *,
        paths: ApiPaths | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.options = options or HttpOptions()
        self.paths = paths or ApiPaths()
        self._credentials = credentials
        timeout = httpx.Timeout(self.options.timeout, connect=self.options.connect_timeout)
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport or _nodelay_transport(self.options.max_workers),
            headers={"User-Agent": f"rtssync/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
        )
        self._limiter = TokenBucket(self.options.rate_limit, self.options.rate_burst)
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpBackend:
        """The backend rtssync.yaml describes: ``tms.url``, client id and secret from the
        environment, tuning from ``tms.options``."""
        url = (settings.tms.url or "").strip()
        if not url:
            raise RtssyncError(f"{settings.source}: tms.url is needed for the http TMS backend")
        options = settings.tms.options
        credentials = credentials_from_env(options.get("audience"))
        paths = ApiPaths(token_url=options.get("token_url", DEFAULT_TOKEN_PATH))
        return cls(url, credentials, options_from_settings(options), paths=paths)

    # -- the protocol: reads --------------------------------------------------------------------

    def list_subsidiaries(self) -> list[LiveSubsidiary]:
        """Every subsidiary, page by page. If the TMS changes while it is read (the total moves),
        the read starts over, so the result is one consistent listing."""
        for _ in range(3):
            listing = self._read_all_pages()
            if listing is not None:
                return listing
        raise TmsError("the TMS kept changing while its subsidiaries were read; try again")

    def get_subsidiary(self, tms_id: str) -> LiveSubsidiary:
        path = self._path("subsidiary", tms_id)
        result = self._call("GET", path, what=f"read subsidiary {tms_id}")
        return self._subsidiary(result.response, f"read subsidiary {tms_id}")

    # -- the protocol: writes -------------------------------------------------------------------

    def create_subsidiary(
        self, fields: SubsidiaryFields, *, idempotency_key: str
    ) -> LiveSubsidiary:
        what = "create a subsidiary"
        result = self._call(
            "POST",
            self._path("create"),
            json=wire.fields_to_json(fields),
            headers={"Idempotency-Key": idempotency_key},
            what=what,
        )
        return self._subsidiary(result.response, what)

    def update_subsidiary(
        self, tms_id: str, fields: SubsidiaryFields, *, if_match: str
    ) -> LiveSubsidiary:
        return self._versioned_write(
            "PATCH", self._path("subsidiary", tms_id), tms_id,
            body=wire.fields_to_json(fields), if_match=if_match,
            done=lambda live: live.fields == fields,
            what=f"update subsidiary {tms_id}",
        )  # fmt: skip

    def set_notice_of_assignment(self, tms_id: str, text: str, *, if_match: str) -> LiveSubsidiary:
        return self._versioned_write(
            "PUT", self._path("notice_of_assignment", tms_id), tms_id,
            body={"text": text}, if_match=if_match,
            done=lambda live: live.notice_of_assignment == text,
            what=f"set the notice of assignment of {tms_id}",
        )  # fmt: skip

    def set_invoicing(self, tms_id: str, invoicing: Invoicing, *, if_match: str) -> LiveSubsidiary:
        return self._versioned_write(
            "PUT", self._path("invoicing", tms_id), tms_id,
            body=wire.invoicing_to_json(invoicing), if_match=if_match,
            done=lambda live: live.invoicing == invoicing,
            what=f"set the invoicing of {tms_id}",
        )  # fmt: skip

    def put_rts_ftp(
        self,
        tms_id: str,
        settings: FtpSettings,
        *,
        credentials: FtpCredentials | None,
        credentials_revision: str | None,
        if_match: str,
    ) -> LiveSubsidiary:
        body = wire.ftp_settings_to_json(settings)
        if credentials is not None:
            body["credentials"] = wire.credentials_to_json(credentials)
        if credentials is not None or credentials_revision is not None:
            body["credentialsRevision"] = credentials_revision  # the server judges the pair
        secrets = [credentials.password.reveal()] if credentials is not None else []
        return self._versioned_write(
            "PUT", self._path("rts_ftp", tms_id), tms_id,
            body=body, if_match=if_match,
            done=lambda live: _ftp_done(live, settings, credentials, credentials_revision),
            what=f"set the RTS FTP settings of {tms_id}", secrets=secrets,
        )  # fmt: skip

    def remove_rts_ftp(self, tms_id: str, *, if_match: str) -> LiveSubsidiary:
        return self._versioned_write(
            "DELETE", self._path("rts_ftp", tms_id), tms_id,
            body=None, if_match=if_match,
            done=lambda live: live.rts_ftp is None,
            what=f"remove the RTS FTP settings of {tms_id}",
        )  # fmt: skip

    def record_applied(self, tms_id: str, applied: AppliedFrom, *, if_match: str) -> LiveSubsidiary:
        return self._versioned_write(
            "PUT", self._path("applied_from", tms_id), tms_id,
            body=wire.applied_to_json(applied), if_match=if_match,
            done=lambda live: live.applied_from == applied,
            what=f"record what {tms_id} was applied from",
        )  # fmt: skip

    # -- concurrency and lifecycle --------------------------------------------------------------

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- hooks for adapters (alvys) -------------------------------------------------------------

    def missing_path(self, name: str) -> RtssyncError:
        """The error for an operation this TMS has no endpoint for."""
        return RtssyncError(f"the TMS backend has no endpoint configured for {name}")

    def _path(self, name: str, tms_id: str | None = None) -> str:
        template = getattr(self.paths, name)
        if template is None:
            raise self.missing_path(name)
        if tms_id is None:
            return str(template)
        return str(template).replace("{id}", urllib.parse.quote(tms_id, safe=""))

    # -- paging ---------------------------------------------------------------------------------

    def _read_all_pages(self) -> list[LiveSubsidiary] | None:
        """All pages, or None if the total changed between pages (the caller starts over)."""
        first_total, first_items = self._search_page(0)
        size = self.options.page_size
        pages = math.ceil(first_total / size)
        rest = self.run_concurrently(
            [lambda p=p: self._search_page(p) for p in range(1, pages)]  # type: ignore[misc]
        )
        if any(total != first_total for total, _ in rest):
            return None
        listing: dict[str, LiveSubsidiary] = {}
        for _, items in [(first_total, first_items), *rest]:
            for item in items:
                listing.setdefault(item.tms_id, item)
        return list(listing.values()) if len(listing) == first_total else None

    def _search_page(self, page: int) -> tuple[int, list[LiveSubsidiary]]:
        what = f"search subsidiaries (page {page})"
        body = {"page": page, "pageSize": self.options.page_size}
        result = self._call("POST", self._path("search"), json=body, what=what)
        document = self._json(result.response, what)
        total, items = document.get("total"), document.get("items")
        if not isinstance(total, int) or not isinstance(items, list):
            raise TmsError(f"{what}: the TMS sent a page without 'total' and 'items'")
        return total, [wire.subsidiary_from_json(item) for item in items]

    # -- versioned writes -----------------------------------------------------------------------

    def _versioned_write(
        self,
        method: str,
        path: str,
        tms_id: str,
        *,
        body: Mapping[str, Any] | None,
        if_match: str,
        done: Callable[[LiveSubsidiary], bool],
        what: str,
        secrets: Sequence[str] = (),
    ) -> LiveSubsidiary:
        """A write under If-Match, retried; a 412 after a retry is checked against ``done``
        (the earlier attempt may have been the one that succeeded)."""
        result = self._call(
            method, path, json=body, headers={"If-Match": if_match}, what=what, secrets=secrets
        )
        if result.response.status_code == 412 and result.attempts > 1:
            current = self.get_subsidiary(tms_id)
            if done(current):
                log.info("%s: an earlier attempt had succeeded (its response was lost)", what)
                return current
        return self._subsidiary(result.response, what, secrets)

    # -- one request, with token, pacing and retries --------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        authenticated: bool = True,
    ) -> _Attempted:
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
                    return _Attempted(response, attempt.retry_state.attempt_number)
        except _RetryableStatus as error:
            raise self._problem_error(error.response, what, secrets) from None
        except httpx.TransportError as error:
            raise TmsError(
                f"{what}: the TMS could not be reached after {self.options.max_attempts} "
                f"attempts ({type(error).__name__})"
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
        result = self._call(
            "POST", self.paths.token_url, json=body, what=what, secrets=[secret],
            authenticated=False,
        )  # fmt: skip
        if result.response.status_code in (400, 401, 403):
            raise TmsError(
                f"the TMS refused the client credentials ({CLIENT_ID_ENV} / "
                f"{CLIENT_SECRET_ENV}): " + _problem_summary(result.response, [secret])
            )
        document = self._json(result.response, what, [secret])
        token, expires_in = document.get("access_token"), document.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise TmsError(f"{what}: the token response lacks access_token or expires_in")
        margin = min(self.options.token_refresh_margin, float(expires_in) / 10)
        return _Token(token, time.monotonic() + float(expires_in) - margin)

    # -- responses ------------------------------------------------------------------------------

    def _subsidiary(
        self, response: httpx.Response, what: str, secrets: Sequence[str] = ()
    ) -> LiveSubsidiary:
        return wire.subsidiary_from_json(self._json(response, what, secrets))

    def _json(
        self, response: httpx.Response, what: str, secrets: Sequence[str] = ()
    ) -> dict[str, Any]:
        if not response.is_success:
            raise self._problem_error(response, what, secrets)
        try:
            document = response.json()
        except ValueError:
            raise TmsError(f"{what}: the TMS sent a response that is not JSON") from None
        if not isinstance(document, dict):
            raise TmsError(f"{what}: the TMS sent a response that is not a JSON object")
        return document

    def _problem_error(
        self, response: httpx.Response, what: str, secrets: Sequence[str]
    ) -> TmsError:
        status = response.status_code
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


def _ftp_done(
    live: LiveSubsidiary,
    settings: FtpSettings,
    credentials: FtpCredentials | None,
    revision: str | None,
) -> bool:
    """Whether ``live`` already has what put_rts_ftp asked for. A password cannot be read
    back, so new credentials count as stored only if their revision (set with them) is there."""
    ftp = live.rts_ftp
    if ftp is None or ftp.settings != settings:
        return False
    if credentials is None:
        return True
    return (
        revision is not None
        and ftp.credentials_revision == revision
        and ftp.username == credentials.username
        and ftp.password_set
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
    for value in hidden:
        if value:
            text = text.replace(value, "***")
    return text


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
