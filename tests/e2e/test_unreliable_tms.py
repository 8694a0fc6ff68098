"""A TMS that errors and drops connections (some after making the change): re-running apply
finishes the job and nothing is done twice."""

from __future__ import annotations

from pathlib import Path

from rtssync.model import Secret
from rtssync.tms.faults import FaultConfig
from tests.conftest import CANARY_PASSWORD
from tests.e2e.harness import World, canary_forms
from tests.repo_factory import default_settings, make_config_repo
from tests.tms.server_fixture import run_server

MAX_RUNS = 8


def test_re_running_apply_against_a_flaky_tms_converges_without_duplicates(
    tmp_path: Path,
) -> None:
    faults = FaultConfig(error_rate=0.2, drop_rate=0.2, seed=20261125)
    with run_server(tmp_path / "tms.sqlite", faults=faults) as server:
        settings = default_settings()
        # Few, quick retries: the backend gives up on some writes, so re-runs have work to do.
        options = {"max_attempts": "2", "backoff_initial": "0.01", "backoff_max": "0.05"}
        settings["tms"] = {"kind": "http", "url": server.url, "options": options}
        repo = make_config_repo(tmp_path, password=CANARY_PASSWORD, settings=settings,
                                init_git=True)
        world = World(tmp_path, repo, "http", server)
        codes = []
        for _ in range(MAX_RUNS):
            codes.append(world.rtssync("apply", "--yes", keys=True).returncode)
            if codes[-1] == 0 and "No changes" in world.outputs[-2]:
                break
        assert codes[-1] == 0, world.outputs[-2:]
        assert 1 in codes  # some run was really cut short
        lives = server.store.list_subsidiaries()
        assert sorted(s.fields.name for s in lives) == [
            "Subsidiary 1 LLC", "Subsidiary 2 LLC", "Subsidiary 3 LLC"]  # created once each
        for live in lives:
            assert server.store.password_matches(live.tms_id, Secret(CANARY_PASSWORD))
        produced = world.produced_text()
        for form in canary_forms():
            assert form not in produced
