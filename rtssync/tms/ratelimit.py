"""A token bucket, shared by the reference server (to enforce a limit) and the http client (to
stay under it).

One algorithm on both sides keeps the arithmetic honest: a client bucket with a lower rate and a
smaller burst than the server's can never be refused by it, however its requests bunch up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_EPSILON = 1e-9
"""Float slack, so a caller that waits exactly the time it was told is served."""


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; starts full. Thread-safe.

    ``clock`` is injectable so tests can move time without sleeping.
    """

    def __init__(
        self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        return self._rate

    def try_acquire(self) -> float:
        """Take a token if one is there and return 0.0; otherwise take nothing and return how
        many seconds until one will be."""
        with self._lock:
            self._refill()
            if self._tokens >= 1 - _EPSILON:
                self._tokens = max(0.0, self._tokens - 1)
                return 0.0
            return (1 - self._tokens) / self._rate

    def reserve(self) -> float:
        """Take a token now, going into debt if needed, and return how long to wait before using
        it. Callers that sleep the returned time are served in order, at exactly ``rate``."""
        with self._lock:
            self._refill()
            self._tokens -= 1
            return 0.0 if self._tokens >= -_EPSILON else -self._tokens / self._rate

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Block until a token is ours (client side)."""
        wait = self.reserve()
        if wait > 0:
            sleep(wait)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
