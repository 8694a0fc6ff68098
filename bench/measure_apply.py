"""Target 3: apply N changes against the reference server limited to 10 requests/s.

Nothing can beat the rate limit, so the figure that matters is how close apply gets to it:
``requests needed / 10 per second`` is the bound, counted by the server (requests answered 429
are not "needed" and are reported apart). The TMS starts empty and every subsidiary gets four
changes (create, invoicing, NOA, RTS FTP login), then apply records the commit on each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.corpus import Corpus, key_environment
from bench.measure_plan import LATENCY_MS
from bench.report import Row, ratio
from bench.tms import serve
from rtssync.apply import Outcome, apply_plan
from rtssync.config import load_settings
from rtssync.decrypt import decrypt_credentials as sops_credentials
from rtssync.inputs import plan_from, read_inputs

SERVER_RATE = 10.0
CHANGES_PER_SUBSIDIARY = 4
TARGET_OVER_BOUND = 1.15
TARGET_THROTTLED = 0.01


@dataclass(frozen=True, slots=True)
class ApplyRun:
    seconds: float
    changes: int
    failed: int
    requests: int
    throttled: int

    @property
    def needed(self) -> int:
        return self.requests - self.throttled

    @property
    def bound(self) -> float:
        return self.needed / SERVER_RATE


def subsidiaries_for(changes: int) -> int:
    """How many new subsidiaries make ``changes`` changes."""
    return max(1, changes // CHANGES_PER_SUBSIDIARY)


def measure_apply(corpus: Corpus) -> ApplyRun:
    """Plan against an empty TMS, then time the apply alone."""
    settings = load_settings(corpus.root, corpus.root / "rtssync.yaml")
    db = corpus.root.parent / f"{corpus.root.name}-apply.sqlite"
    with key_environment(corpus, keys=True), \
            serve(db, rate_limit=SERVER_RATE, latency_ms=LATENCY_MS) as served:
        backend = served.client()
        try:
            inputs = read_inputs(settings, backend)
            plan = plan_from(inputs, (), usernames=False)
            served.tally.reset()
            start = time.perf_counter()
            result = apply_plan(plan, inputs.desired.subsidiaries, inputs.live, backend,
                                credentials=sops_credentials,
                                allowed_hosts=settings.policy.allowed_hosts, commit=None)
            seconds = time.perf_counter() - start
        finally:
            backend.close()
        tally = served.tally
        tally.settle()
        return ApplyRun(seconds, len(result.results), result.count(Outcome.FAILED)
                        + result.count(Outcome.SKIPPED) + len(result.errors),
                        tally.total, tally.throttled)


def apply_rows(run: ApplyRun) -> list[Row]:
    over = ratio(run.seconds, run.bound)
    share = ratio(run.throttled, run.requests)
    return [
        Row("apply at 10 req/s, 20 ms/request", run.changes, run.seconds, "s",
            f"rate-limit bound ({run.needed} requests / 10 per s)", run.bound, over,
            f"<= {TARGET_OVER_BOUND:.2f}x bound", over <= TARGET_OVER_BOUND,
            f"{run.failed} failed"),
        Row("apply failures and 429s", run.changes, float(run.failed), "failed",
            "requests answered 429", float(run.throttled), share,
            f"0 failed; < {TARGET_THROTTLED:.0%} 429",
            run.failed == 0 and share < TARGET_THROTTLED,
            f"{run.throttled} of {run.requests} requests answered 429", baseline_unit="req"),
    ]
