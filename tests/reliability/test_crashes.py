"""Crashes: ``kill -9`` of a real ``rtssync apply --yes`` process at random moments.

Each trial starts the real CLI against a fresh TMS (the local SQLite backend, or the reference
server over HTTP with latency added so that the apply takes a while), and SIGKILLs it at a
seeded random wall-clock time: most trials wait until the store shows the first write and then a
random part of the apply's measured length, some kill it before it writes anything. Afterwards:

- the store passes ``PRAGMA integrity_check`` and holds no duplicate subsidiary;
- ``plan`` lists exactly the changes not yet made, as found by comparing the store column by
  column with the store of a complete apply (not with rtssync's diff);
- the journal is still readable, line by line;
- a re-run converges, and no change was ever written twice.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest

from rtssync.journal import Journal
from rtssync.tms.faults import FaultConfig
from rtssync.tms.local import LocalBackend
from tests.e2e.harness import World
from tests.reliability.conftest import Recorder
from tests.reliability.store import (
    Row,
    audit_report,
    converged,
    install_audit,
    integrity_errors,
    pending_actions,
    rows_by_mc,
)
from tests.reliability.worlds import (
    http_world,
    key_of_mc,
    kill_hard,
    local_world,
    start_rtssync,
    store_path,
    template_repo,
)
from tests.repo_factory import ConfigRepo

TRIALS_PER_BACKEND = 15
SUBSIDIARIES = 8
HTTP_LATENCY_MS = 15.0
EARLY_KILL_SHARE = 0.15
"""Trials killed at a random moment of start-up, before the first write."""
SEED = 20261125
SERVER_SETTLE_S = 0.3


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    return template_repo(tmp_path_factory.mktemp("crash-template"), SUBSIDIARIES)


@contextmanager
def fresh_world(template: ConfigRepo, tmp_path: Path, backend: str) -> Iterator[World]:
    """A copy of the template on an empty TMS whose writes are audited."""
    context: AbstractContextManager[World]
    if backend == "http":
        context = http_world(template, tmp_path,
                             faults=FaultConfig(latency_ms=HTTP_LATENCY_MS))
    else:
        context = nullcontext(local_world(template, tmp_path))
    with context as world:
        LocalBackend(store_path(world)).close()  # the local store exists before the apply
        install_audit(store_path(world))
        yield world


def wait_for_first_write(world: World, process: subprocess.Popen[str],
                         timeout: float = 60.0) -> float:
    """Poll the store until the apply made its first write (or ended); returns that moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(audit_report(store_path(world)).creates.values()) or process.poll() is not None:
            return time.monotonic()
        time.sleep(0.005)
    raise AssertionError("the apply made no write within a minute")


def settle(world: World, timeout: float = 30.0) -> None:
    """The server lives on after its client is killed, and a request the client had sent may
    still be running: wait until the store has stopped changing."""
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        report = audit_report(store_path(world))
        current = (report.writes, sum(report.creates.values()))
        if current == previous:
            return
        previous = current
        time.sleep(SERVER_SETTLE_S)
    raise AssertionError("the store kept changing after the apply was killed")


def write_window(template: ConfigRepo, tmp_path: Path,
                 backend: str) -> tuple[float, dict[str, Row]]:
    """One complete apply: how long its writes take (first write to exit), and the store it
    leaves, the reference every trial is compared with."""
    with fresh_world(template, tmp_path, backend) as world:
        process = start_rtssync(world, "apply", "--yes")
        first = wait_for_first_write(world, process)
        out, err = process.communicate(timeout=120)
        window = time.monotonic() - first
        assert process.returncode == 0, out + err
        return window, rows_by_mc(store_path(world))


def planned_actions(world: World) -> set[tuple[str, str]]:
    result = world.rtssync("plan", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    return {(c["key"], c["action"]) for c in document["changes"] if c["action"] != "none"}


@dataclass
class Tally:
    trials: int = 0
    killed_before_any_write: int = 0
    killed_mid_apply: int = 0
    finished_before_kill: int = 0
    pending_changes_checked: int = 0


def crash_trial(world: World, rng: random.Random, window: float, reference: dict[str, Row],
                tally: Tally) -> None:
    process = start_rtssync(world, "apply", "--yes")
    if rng.random() < EARLY_KILL_SHARE:
        time.sleep(rng.uniform(0.0, 1.0))
    else:
        wait_for_first_write(world, process)
        time.sleep(rng.uniform(0.0, window))
    finished = process.poll() is not None
    kill_hard(process)
    if world.server is not None:
        settle(world)
    tally.trials += 1
    db = store_path(world)
    assert integrity_errors(db) == []
    now = rows_by_mc(db)  # asserts: no duplicate subsidiary
    expected = pending_actions(now, reference, key_of_mc(world.repo))
    if finished:
        tally.finished_before_kill += 1
    elif not now:
        tally.killed_before_any_write += 1
    else:
        tally.killed_mid_apply += 1
    planned = planned_actions(world)
    assert planned == expected
    tally.pending_changes_checked += len(expected)
    Journal.for_repository(world.root).entries()  # every line still parses
    rerun = world.rtssync("apply", "--yes", keys=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert converged(rows_by_mc(db), reference)
    assert world.rtssync("plan", "--detailed-exitcode").returncode == 0
    audit = audit_report(db)
    assert audit.repeated_writes == [], "a change was written twice"
    assert all(n == 1 for n in audit.creates.values())


@pytest.mark.parametrize("backend", ["local", "http"])
def test_kill_9_at_random_moments_then_plan_shows_what_is_left_and_a_re_run_converges(
    backend: str, template: ConfigRepo, tmp_path: Path, scale: int, figures: Recorder,
) -> None:
    window, reference = write_window(template, tmp_path / "reference", backend)
    rng = random.Random(f"{SEED}-{backend}")
    tally = Tally()
    for trial in range(TRIALS_PER_BACKEND * scale):
        with fresh_world(template, tmp_path / f"trial-{trial}", backend) as world:
            crash_trial(world, rng, window, reference, tally)
    figures(backend=backend, seed=SEED, subsidiaries=SUBSIDIARIES,
            apply_write_window_s=round(window, 3), **vars(tally),
            integrity_check_failures=0, duplicate_subsidiaries=0, changes_written_twice=0)
    assert tally.killed_mid_apply > 0, "no kill landed in the middle of an apply"
