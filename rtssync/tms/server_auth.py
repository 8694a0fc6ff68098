"""The reference server's OAuth2 client-credentials flow: one client, opaque expiring tokens,
and a rate limit per token (as Alvys limits each token to 10 requests/s)."""

from __future__ import annotations

import hmac
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rtssync.model import Secret
from rtssync.tms.problems import ProblemError
from rtssync.tms.ratelimit import TokenBucket

MAX_TRACKED_TOKENS = 10_000
"""Rate-limit buckets kept; a client fetching more tokens than this only resets its oldest."""


@dataclass(frozen=True, slots=True)
class Issued:
    access_token: str
    expires_in: int


class TokenIssuer:
    """Checks client credentials, issues tokens, and knows which are still valid."""

    def __init__(
        self,
        client_id: str,
        client_secret: Secret,
        *,
        ttl: float,
        audience: str | None,
        clock: Callable[[], float],
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._ttl = ttl
        self._audience = audience
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, request: Mapping[str, object]) -> Issued:
        """A new token for a valid (already schema-checked) token request; 401 otherwise."""
        if not self._credentials_match(request):
            raise ProblemError(401, "unknown client or wrong client secret")
        audience = request.get("audience")
        if self._audience is not None and audience not in (None, self._audience):
            raise ProblemError(401, "this server does not issue tokens for that audience")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_expired()
            self._expiry[token] = self._clock() + self._ttl
        return Issued(token, max(0, math.floor(self._ttl)))

    def check(self, authorization: str | None) -> str:
        """The bearer token from an Authorization header if it is valid; 401 otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("a bearer token is required", "invalid_request")
        with self._lock:
            expiry = self._expiry.get(token.strip())
        if expiry is None:
            raise _unauthorized("unknown access token", "invalid_token")
        if self._clock() >= expiry:
            raise _unauthorized("the access token has expired", "invalid_token")
        return token.strip()

    def expire_all(self) -> None:
        """Test hook: every token issued so far is now expired."""
        with self._lock:
            now = self._clock()
            self._expiry = dict.fromkeys(self._expiry, now)

    def _credentials_match(self, request: Mapping[str, object]) -> bool:
        client_id = str(request.get("client_id", ""))
        client_secret = str(request.get("client_secret", ""))
        id_ok = hmac.compare_digest(client_id.encode(), self._client_id.encode())
        secret_ok = hmac.compare_digest(
            client_secret.encode(), self._client_secret.reveal().encode()
        )
        return id_ok and secret_ok

    def _forget_expired(self) -> None:
        now = self._clock()
        self._expiry = {t: e for t, e in self._expiry.items() if e > now}


def _unauthorized(detail: str, error: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": f'Bearer error="{error}"'})


class PerTokenRateLimit:
    """A token bucket per access token; over it, 429 with Retry-After in whole seconds."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, token: str) -> None:
        with self._lock:
            bucket = self._buckets.get(token)
            if bucket is None:
                bucket = TokenBucket(self._rate, self._burst, clock=self._clock)
                self._buckets[token] = bucket
                if len(self._buckets) > MAX_TRACKED_TOKENS:
                    self._buckets.popitem(last=False)  # the oldest token; long expired by now
        wait = bucket.try_acquire()
        if wait > 0:
            raise ProblemError(
                429,
                f"over the rate limit of {self._rate:g} requests per second per token",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
