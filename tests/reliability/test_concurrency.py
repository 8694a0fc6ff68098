"""Concurrency: applies started together never corrupt anything, and a change made in the TMS
between plan and apply is refused (ETag), never overwritten.

- Same repository, two real ``rtssync apply --yes`` processes at once: the apply lock lets one
  run; the other waits for nothing and fails with a clear message, or starts after the first
  finished and finds nothing to do.
- Two machines (two clones, no shared lock) against one reference server at once: idempotency
  keys and If-Match keep them apart; re-running converges with no duplicate and no repeated write.
- A UI edit between plan and apply: the write planned against the old ETag fails, the UI's value
  stays, and the next plan shows it as drift.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from rtssync.apply import Outcome, apply_plan
from rtssync.cli import cli  # noqa: F401 - the command modules import rtssync.cli first
from rtssync.commands.apply import sops_credentials
from rtssync.config import load_settings
from rtssync.inputs import plan_from, read_inputs
from rtssync.model import Secret
from rtssync.sops import clear_identity_cache
from rtssync.tms.faults import FaultConfig
from rtssync.tms.http import ClientCredentials, HttpBackend
from rtssync.tms.local import LocalBackend
from tests.e2e.harness import World
from tests.reliability.conftest import Recorder
from tests.reliability.store import (
    audit_report,
    install_audit,
    integrity_errors,
    rows_by_mc,
)
from tests.reliability.worlds import (
    http_world,
    local_world,
    start_rtssync,
    store_path,
    template_repo,
)
from tests.repo_factory import NOA_TEXT, ConfigRepo, git_commit_all

SUBSIDIARIES = 6
PAIRS_PER_BACKEND = 4
LOCK_MESSAGE = "another rtssync apply is running"
UI_NOA = "NOTICE typed into the TMS's web UI by a colleague\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    return template_repo(tmp_path_factory.mktemp("concurrency-template"), SUBSIDIARIES)


def check_sound(world: World) -> None:
    db = store_path(world)
    assert integrity_errors(db) == []
    assert len(rows_by_mc(db)) == SUBSIDIARIES  # asserts: no duplicate
    audit = audit_report(db)
    assert audit.repeated_writes == []
    assert all(n == 1 for n in audit.creates.values())
    assert world.rtssync("plan", "--detailed-exitcode").returncode == 0


def run_pair(worlds: tuple[World, World]) -> list[tuple[int, str]]:
    """Start ``apply --yes`` in both at once; (exit code, output) of each."""
    processes = [start_rtssync(world, "apply", "--yes") for world in worlds]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        results.append((process.returncode, out + err))
    return results


def one_pair(template: ConfigRepo, trial: Path, backend: str, tally: dict[str, int]) -> None:
    with ExitStack() as stack:
        if backend == "http":
            world = stack.enter_context(
                http_world(template, trial, faults=FaultConfig(latency_ms=20.0)))
        else:
            world = local_world(template, trial)
        LocalBackend(store_path(world)).close()
        install_audit(store_path(world))
        results = run_pair((world, world))
        codes = sorted(code for code, _ in results)
        assert codes in ([0, 0], [0, 1]), results
        if codes == [0, 1]:
            failed = next(output for code, output in results if code == 1)
            assert LOCK_MESSAGE in failed, failed
            assert "Traceback" not in failed
            tally["refused_by_the_lock"] += 1
        else:
            assert any("No changes" in output for _, output in results), results
            tally["ran_one_after_the_other"] += 1
        tally["pairs"] += 1
        check_sound(world)


@pytest.mark.parametrize("backend", ["local", "http"])
def test_two_applies_in_one_repository_one_runs_the_other_fails_cleanly(
    backend: str, template: ConfigRepo, tmp_path: Path, scale: int, figures: Recorder,
) -> None:
    tally = {"pairs": 0, "refused_by_the_lock": 0, "ran_one_after_the_other": 0}
    for pair in range(PAIRS_PER_BACKEND * scale):
        one_pair(template, tmp_path / f"pair-{pair}", backend, tally)
    figures(backend=backend, subsidiaries=SUBSIDIARIES, **tally)


def test_two_machines_applying_at_once_never_duplicate_or_repeat(
    template: ConfigRepo, tmp_path: Path, scale: int, figures: Recorder,
) -> None:
    runs = {"pairs": 0, "both_succeeded": 0, "one_refused_by_an_etag": 0, "re_runs": 0}
    for pair in range(PAIRS_PER_BACKEND * scale):
        with http_world(template, tmp_path / f"pair-{pair}",
                        faults=FaultConfig(latency_ms=10.0)) as first:
            assert first.server is not None
            install_audit(first.server.db_path)
            clone = first.repo.copy_to(tmp_path / f"pair-{pair}" / "clone")
            second = World(tmp_path / f"pair-{pair}", clone, "http", first.server)
            results = run_pair((first, second))
            for code, output in results:
                assert code in (0, 1), output
                assert "Traceback" not in output
                assert "internal error" not in output
                if code == 1:
                    assert "changed in the TMS since it was read" in output, output
            runs["pairs"] += 1
            both = [code for code, _ in results] == [0, 0]
            runs["both_succeeded" if both else "one_refused_by_an_etag"] += 1
            while first.rtssync("apply", "--yes", keys=True).returncode != 0:
                runs["re_runs"] += 1
                assert runs["re_runs"] < 20
            check_sound(first)
    figures(subsidiaries=SUBSIDIARIES, **runs)


def test_a_ui_edit_between_plan_and_apply_is_refused_not_overwritten(
    template: ConfigRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Recorder,
) -> None:
    with http_world(template, tmp_path) as world:
        assert world.server is not None
        assert world.rtssync("apply", "--yes", keys=True).returncode == 0
        for key in ("sub-1", "sub-2"):
            path = world.repo.path_of(key)
            path.write_text(path.read_text().replace("P.O. Box 840267", "P.O. Box 111111"))
        git_commit_all(world.root, "RTS moved their lockbox")
        monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(world.repo.age_key_file))
        clear_identity_cache()
        settings = load_settings(world.root, world.repo.settings_file)
        credentials = ClientCredentials(world.server.client_id,
                                        Secret(world.server.client_secret))
        with HttpBackend(world.server.url, credentials) as backend:
            inputs = read_inputs(settings, backend)
            plan = plan_from(inputs, ())
            sub_1 = world.live_by_name("Subsidiary 1 LLC")
            world.ui_edit(sub_1.tms_id, notice_of_assignment=UI_NOA)  # after the plan was made
            result = apply_plan(plan, inputs.desired.subsidiaries, inputs.live, backend,
                                credentials=sops_credentials, allowed_hosts=["*"],
                                commit=inputs.commit)
        outcomes = {r.change.key: r for r in result.results}
        figures(changes=len(result.results), refused=[k for k, r in outcomes.items()
                                                      if r.outcome is Outcome.FAILED])
        assert outcomes["sub-1"].outcome is Outcome.FAILED
        assert "changed in the TMS since it was read" in outcomes["sub-1"].message
        assert outcomes["sub-2"].outcome is Outcome.APPLIED
        assert world.live_by_name("Subsidiary 1 LLC").notice_of_assignment == UI_NOA
        assert "P.O. Box 111111" in str(world.live_by_name("Subsidiary 2 LLC")
                                         .notice_of_assignment)
        assert NOA_TEXT != UI_NOA
        plan_text = world.rtssync("plan").stdout
        assert "drift: noa changed in the TMS outside rtssync" in plan_text
