"""Target 2: ``plan`` of N subsidiaries against the reference server with 20 ms per request.

The TMS already holds all N subsidiaries as an earlier apply left them, so the plan reads every
page, compares every field and finds nothing to do: the common case in CI. Measured twice, with
the age key present (plan then decrypts every RTS FTP username to compare it with the TMS) and
keyless (a fork's pull request), and the requests are counted by the server.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import Corpus, key_environment
from bench.report import Row, ratio
from bench.tms import Served
from rtssync.config import load_settings
from rtssync.inputs import plan_from, read_inputs
from rtssync.plan import Plan
from rtssync.tms.http import HttpOptions

TARGET_SECONDS = 3.0
LATENCY_MS = 20.0


@dataclass(frozen=True, slots=True)
class PlanRun:
    seconds: float
    requests: int
    throttled: int
    actionable: int


def plan_once(corpus: Corpus, served: Served) -> tuple[Plan, float]:
    """``rtssync plan`` minus rendering: files, TMS pages, diff (and usernames if keys)."""
    settings = load_settings(corpus.root, corpus.root / "rtssync.yaml")
    backend = served.client()
    try:
        start = time.perf_counter()
        plan = plan_from(read_inputs(settings, backend, usernames=True), ())
        return plan, time.perf_counter() - start
    finally:
        backend.close()


def measure_plan(corpus: Corpus, served: Served, *, keys: bool, repeats: int = 2) -> PlanRun:
    """The fastest of ``repeats`` plans, each with a fresh client (its own token and
    connection, as a new ``rtssync plan`` process has); requests are those of the last one."""
    best = float("inf")
    with key_environment(corpus, keys=keys):
        for _ in range(repeats):
            served.tally.reset()
            plan, seconds = plan_once(corpus, served)
            best = min(best, seconds)
            served.tally.settle()
    return PlanRun(best, served.tally.total, served.tally.throttled, len(plan.actionable))


def warm_up(corpus: Corpus, served: Served) -> None:
    """One untimed plan first: whichever variant ran first would otherwise pay for compiling
    the schema validator, regexes and the first connection, and look slower than it is."""
    with key_environment(corpus, keys=False):
        plan_once(corpus, served)


def request_limit(size: int) -> int:
    """ceil(N / pageSize) searches, one token, one to spare."""
    return math.ceil(size / HttpOptions().page_size) + 2


def plan_rows(size: int, keyless: PlanRun, keyed: PlanRun) -> list[Row]:
    limit = request_limit(size)
    busiest = max(keyless.requests, keyed.requests)
    note = f"{keyed.actionable} change(s) with keys, {keyless.actionable} keyless"
    return [
        Row("plan over HTTP, 20 ms/request, keyless", size, keyless.seconds, "s",
            "3 s budget", TARGET_SECONDS, ratio(keyless.seconds, TARGET_SECONDS),
            f"< {TARGET_SECONDS:g} s", keyless.seconds < TARGET_SECONDS, note),
        Row("plan over HTTP, 20 ms/request, with keys", size, keyed.seconds, "s",
            "keyless plan, same run", keyless.seconds, ratio(keyed.seconds, keyless.seconds),
            f"< {TARGET_SECONDS:g} s; keyless no slower",
            keyed.seconds < TARGET_SECONDS and keyless.seconds <= keyed.seconds * 1.05,
            "usernames decrypted and compared"),
        Row("plan HTTP requests (server-side count)", size, float(busiest), "req",
            "ceil(N/pageSize)+2", float(limit), ratio(busiest, limit), f"<= {limit}",
            busiest <= limit, f"{keyless.throttled + keyed.throttled} answered 429"),
    ]


def profile_plan(corpus: Corpus, served: Served, out: Path) -> Path:
    """pyinstrument over one plan with keys: text and HTML next to the results."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    with key_environment(corpus, keys=True):
        profiler.start()
        plan_once(corpus, served)
        profiler.stop()
    out.mkdir(parents=True, exist_ok=True)
    text = out / "plan-profile.txt"
    text.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    (out / "plan-profile.html").write_text(profiler.output_html())
    return text
