"""Faults: apply against a reference server that answers 500/503/429 and drops connections
(half of the drops after it made the change). Over many seeds, re-running apply always converges
to the desired state, no subsidiary is created twice and no change is written twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtssync.model import Invoicing, InvoicingMethod, Secret
from rtssync.tms.faults import FaultConfig
from tests.conftest import CANARY_PASSWORD
from tests.e2e.harness import World
from tests.reliability.conftest import Recorder
from tests.reliability.store import audit_report, install_audit
from tests.reliability.worlds import http_world, outcomes, template_repo
from tests.repo_factory import NOA_TEXT, ConfigRepo

SEEDS = 20
SUBSIDIARIES = 4
ERROR_RATE = 0.10  # 500, 503 or 429
DROP_RATE = 0.10  # connection dropped, before or after the request was handled
MAX_RUNS = 10
CLIENT = {"max_attempts": "3"}  # few retries, so some runs give up and re-runs have work


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    return template_repo(tmp_path_factory.mktemp("faults-template"), SUBSIDIARIES)


def apply_until_converged(world: World) -> list[int]:
    """Exit codes of ``apply --yes`` runs until one succeeds (or MAX_RUNS)."""
    codes: list[int] = []
    while len(codes) < MAX_RUNS:
        codes.append(world.rtssync("apply", "--yes", keys=True).returncode)
        if codes[-1] == 0:
            break
    return codes


def check_converged_once(world: World) -> None:
    assert world.server is not None
    store = world.server.store
    lives = store.list_subsidiaries()
    assert sorted(s.fields.name for s in lives) == [
        f"Subsidiary {n} LLC" for n in range(1, SUBSIDIARIES + 1)]
    for live in lives:
        assert live.rts_ftp is not None
        assert live.notice_of_assignment == NOA_TEXT
        assert live.invoicing == Invoicing(InvoicingMethod.FACTORING, auto_merge=True)
        assert store.password_matches(live.tms_id, Secret(CANARY_PASSWORD))
    audit = audit_report(world.server.db_path)
    assert all(count == 1 for count in audit.creates.values()), audit.creates
    assert audit.repeated_writes == [], "a change was written twice"
    assert sorted(audit.credential_writes.values()) == [1] * SUBSIDIARIES


def test_apply_converges_through_errors_and_dropped_connections_over_many_seeds(
    template: ConfigRepo, tmp_path: Path, scale: int, figures: Recorder,
) -> None:
    seeds = list(range(1, SEEDS * scale + 1))
    runs, faults_seen, requests = [], 0, 0
    for seed in seeds:
        faults = FaultConfig(error_rate=ERROR_RATE, drop_rate=DROP_RATE, seed=seed)
        with http_world(template, tmp_path / f"seed-{seed}", options=CLIENT,
                        faults=faults) as world:
            assert world.server is not None
            install_audit(world.server.db_path)
            codes = apply_until_converged(world)
            assert codes[-1] == 0, f"seed {seed}: no convergence in {MAX_RUNS} runs: {codes}"
            world.server.state.faults.config = FaultConfig()  # the storm is over: look
            plan = world.rtssync("plan", "--detailed-exitcode")
            assert plan.returncode == 0, f"seed {seed}: {plan.stdout}{plan.stderr}"
            check_converged_once(world)
            seen = outcomes(world.server)
            faults_seen += sum(n for status, n in seen.items()
                               if status in ("500", "503", "429", "dropped"))
            requests += sum(seen.values())
            runs.append(len(codes))
    figures(seeds=len(seeds), subsidiaries_per_seed=SUBSIDIARIES,
            fault_rate=ERROR_RATE + DROP_RATE, requests=requests, faults_injected=faults_seen,
            apply_runs=sum(runs), re_runs=sum(runs) - len(seeds), max_runs_for_one_seed=max(runs),
            converged=len(seeds), duplicate_subsidiaries=0, changes_written_twice=0)
    assert faults_seen > 0
