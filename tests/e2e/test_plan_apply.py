"""The job end to end: plan a pull request, apply the merge, plan again, catch drift.

Every test runs the real CLI in a subprocess against a committed config repo with real
sops-encrypted files, once with the local TMS and once with the reference server over HTTP.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema

from rtssync.model import Secret
from tests.conftest import CANARY_PASSWORD
from tests.e2e.harness import World, ui_credentials
from tests.repo_factory import sops_binary

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"
NEW_PASSWORD = "rotated-Pa55word-2"


def apply_all(world: World) -> None:
    """The state after the first merge: everything applied."""
    result = world.rtssync("apply", "--yes", keys=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_first_plan_creates_apply_converges_second_plan_is_empty(world: World) -> None:
    first = world.rtssync_process("plan", "--detailed-exitcode")
    assert first.returncode == 2, first.stderr
    assert "+ create subsidiary 'Subsidiary 1 LLC' (MC 100001, DOT 2000001)" in first.stdout
    assert "Plan: 12 change(s)" in first.stdout

    result = world.rtssync_process("apply", "--yes", keys=True)
    assert result.returncode == 0, result.stderr
    assert "Applied 12, failed 0, skipped 0." in result.stdout
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=world.root, capture_output=True,
                          text=True, check=True).stdout.strip()
    with world.store() as store:
        lives = store.list_subsidiaries()
        assert sorted(s.fields.name for s in lives) == [
            "Subsidiary 1 LLC", "Subsidiary 2 LLC", "Subsidiary 3 LLC"]
        for live in lives:
            assert store.password_matches(live.tms_id, Secret(CANARY_PASSWORD))
            assert live.applied_from is not None
            assert live.applied_from.commit == head

    second = world.rtssync_process("plan", "--detailed-exitcode")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "No changes" in second.stdout
    again = world.rtssync("apply", "--yes", keys=True)
    assert again.returncode == 0
    assert "No changes" in again.stdout


def test_a_noa_edited_in_a_plain_editor_shows_as_a_line_diff(world: World) -> None:
    apply_all(world)
    path = world.repo.path_of("sub-2")
    path.write_text(path.read_text().replace("P.O. Box 840267", "P.O. Box 999999"))
    world.commit("RTS moved their lockbox")
    result = world.rtssync("plan", "--detailed-exitcode")
    assert result.returncode == 2, result.stderr
    assert "~ change the Notice of Assignment (+1 -1 lines)" in result.stdout
    assert "-RTS Financial Service, Inc., P.O. Box 840267, Dallas, TX 75284-0267." in result.stdout
    assert "+RTS Financial Service, Inc., P.O. Box 999999, Dallas, TX 75284-0267." in result.stdout
    apply_all(world)
    assert world.rtssync("plan", "--detailed-exitcode").returncode == 0


def test_credentials_re_set_show_as_rotated_without_any_key(world: World) -> None:
    apply_all(world)
    secrets = world.rtssync("secrets", "set", "sub-1", "--username", "rts-sub-1",
                            "--password-stdin", keys=True, stdin=NEW_PASSWORD + "\n")
    assert secrets.returncode == 0, secrets.stderr
    world.commit("rotate sub-1's RTS FTP password")
    plan = world.rtssync("plan", "--detailed-exitcode")  # no key in this process
    assert plan.returncode == 2, plan.stderr
    assert "~ rotate RTS FTP credentials (changed in git)" in plan.stdout
    assert "password: (changed)" in plan.stdout
    assert NEW_PASSWORD not in plan.stdout + plan.stderr
    with_keys = world.rtssync("plan", keys=True)  # keys: the usernames are compared too
    assert "username: (unchanged)" in with_keys.stdout
    assert "password: (changed)" in with_keys.stdout
    apply_all(world)
    with world.store() as store:
        live = next(s for s in store.list_subsidiaries() if s.fields.name == "Subsidiary 1 LLC")
        assert store.password_matches(live.tms_id, Secret(NEW_PASSWORD))
    assert world.rtssync("plan", "--detailed-exitcode").returncode == 0


def test_a_file_re_encrypted_by_the_sops_binary_shows_as_a_credentials_update(
    world: World,
) -> None:
    apply_all(world)
    path = world.repo.relpath_of("sub-3")
    env = world.env(keys=True)
    subprocess.run([sops_binary(), "rotate", "--in-place", path], cwd=world.root, env=env,
                   check=True, capture_output=True)
    world.commit("sops rotate: new data key, same credentials")
    plan = world.rtssync("plan")
    assert "~ rotate RTS FTP credentials (changed in git)" in plan.stdout


def test_credentials_typed_into_the_tms_ui_show_as_drift_and_apply_repairs(world: World) -> None:
    apply_all(world)
    target = world.live_by_name("Subsidiary 2 LLC")
    world.ui_edit(target.tms_id, credentials=ui_credentials())
    plan = world.rtssync("plan", "--detailed-exitcode")
    assert plan.returncode == 2
    assert "! drift: RTS FTP credentials changed in the TMS outside rtssync" in plan.stdout
    apply_all(world)
    with world.store() as store:
        assert store.password_matches(target.tms_id, Secret(CANARY_PASSWORD))
    assert world.rtssync("plan", "--detailed-exitcode").returncode == 0


def test_a_noa_edited_in_the_tms_ui_shows_as_drift(world: World) -> None:
    apply_all(world)
    target = world.live_by_name("Subsidiary 3 LLC")
    world.ui_edit(target.tms_id, notice_of_assignment="Pay us directly instead.\n")
    plan = world.rtssync("plan", "--detailed-exitcode")
    assert plan.returncode == 2
    assert "! drift: noa changed in the TMS outside rtssync" in plan.stdout
    assert "-Pay us directly instead." in plan.stdout


def test_json_and_markdown_plans_for_machines_and_pull_requests(world: World) -> None:
    result = world.rtssync("plan", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(document)
    assert document["summary"]["changes"] == 12
    markdown = world.rtssync("plan", "--format", "markdown")
    assert markdown.stdout.startswith("### rtssync plan: 12 change(s)")
    assert "<details><summary>Notice of Assignment (line diff)</summary>" in markdown.stdout


def test_only_limits_plan_and_apply_to_one_subsidiary(world: World) -> None:
    plan = world.rtssync("plan", "--only", "sub-2")
    assert "sub-1" not in plan.stdout
    assert "Plan: 4 change(s)" in plan.stdout
    result = world.rtssync("apply", "--only", "sub-2", "--yes", keys=True)
    assert result.returncode == 0, result.stderr
    assert [s.fields.name for s in world.live()] == ["Subsidiary 2 LLC"]


def test_apply_without_a_terminal_needs_yes(world: World) -> None:
    result = world.rtssync("apply", keys=True)
    assert result.returncode == 1
    assert "pass --yes" in result.stderr
    assert world.live() == []


def test_a_host_outside_policy_is_an_error_with_file_and_line(world: World) -> None:
    path = world.repo.path_of("sub-1")
    path.write_text(path.read_text().replace("devftp.rtsfinancial.com", "ftp.evil.example"))
    result = world.rtssync("plan")
    assert result.returncode == 1
    assert "config/subsidiaries/sub-1.yaml:" in result.stderr
    assert "ftp.evil.example" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_new_host_for_existing_credentials_is_flagged(world: World) -> None:
    apply_all(world)
    path = world.repo.path_of("sub-1")
    path.write_text(path.read_text().replace("devftp.rtsfinancial.com", "ftp2.rtsfinancial.com"))
    text = world.rtssync("plan").stdout
    assert "WARNING: credentials will be sent to a NEW host: devftp.rtsfinancial.com -> " \
           "ftp2.rtsfinancial.com" in text
    markdown = world.rtssync("plan", "--format", "markdown").stdout
    assert "⚠️ **credentials will be sent to a NEW host" in markdown


def test_a_hostile_name_cannot_break_the_pull_request_comment(world: World) -> None:
    path = world.repo.path_of("sub-1")
    hostile = "Evil | <script>alert(1)</script> [x](https://e.example) @org ``` LLC"
    path.write_text(path.read_text().replace("name: Subsidiary 1 LLC", f"name: '{hostile}'"))
    result = world.rtssync("plan", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    for raw in ("<script>", "[x](", "@org", "| <"):
        assert raw not in result.stdout
    assert "&#60;script&#62;" in result.stdout
