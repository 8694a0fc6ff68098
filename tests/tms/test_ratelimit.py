"""The token bucket both sides use: the server to refuse, the client to pace."""

from __future__ import annotations

import pytest

from rtssync.tms.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_serves_its_burst_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=3, clock=clock)
    assert [bucket.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_acquire() == pytest.approx(0.1)
    clock.now += 0.1
    assert bucket.try_acquire() == 0.0


def test_refill_never_exceeds_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=2, clock=clock)
    clock.now += 60
    assert [bucket.try_acquire() for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.try_acquire() > 0


def test_reservations_queue_callers_at_exactly_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, burst=1, clock=clock)
    waits = [bucket.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75])


def test_acquire_sleeps_the_reserved_time() -> None:
    clock = FakeClock()
    slept: list[float] = []
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock)
    bucket.acquire(sleep=slept.append)
    bucket.acquire(sleep=slept.append)
    assert slept == [pytest.approx(0.5)]


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.5)])
def test_a_bucket_that_could_never_serve_is_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="token bucket"):
        TokenBucket(rate, burst)
