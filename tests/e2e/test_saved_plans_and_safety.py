"""Saved plans (applied exactly, refused when stale) and the safety limits, end to end."""

from __future__ import annotations

import json

from tests.e2e.harness import World


def snapshot(world: World) -> list[tuple[str, str]]:
    """What the TMS holds, by version: equal snapshots mean nothing was written."""
    return sorted((s.tms_id, s.etag) for s in world.live())


def apply_all(world: World) -> None:
    result = world.rtssync("apply", "--yes", keys=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_saved_plan_made_without_keys_is_applied_exactly(world: World) -> None:
    plan = world.rtssync_process("plan", "--out", "../plan.json", "--only", "sub-1")
    assert plan.returncode == 0, plan.stderr
    saved = world.tmp_path / "plan.json"
    document = json.loads(saved.read_text())
    assert document["commit"] is not None
    assert set(document["desired_files"]) == {f"config/subsidiaries/sub-{n}.yaml"
                                              for n in (1, 2, 3)}
    result = world.rtssync_process("apply", str(saved), keys=True)
    assert result.returncode == 0, result.stderr
    assert [s.fields.name for s in world.live()] == ["Subsidiary 1 LLC"]
    assert world.rtssync("plan", "--only", "sub-1", "--detailed-exitcode").returncode == 0


def test_a_plan_made_stale_by_an_edited_file_is_refused_and_applies_nothing(
    world: World,
) -> None:
    apply_all(world)
    world.rtssync("plan", "--out", "../plan.json")
    path = world.repo.path_of("sub-1")
    path.write_text(path.read_text().replace("Subsidiary 1 LLC", "Renamed LLC"))
    before = snapshot(world)
    result = world.rtssync("apply", str(world.tmp_path / "plan.json"), keys=True)
    assert result.returncode == 1
    assert "stale plan" in result.stderr
    assert "config/subsidiaries/sub-1.yaml changed" in result.stderr
    assert snapshot(world) == before
    journal = world.root / ".rtssync" / "journal.jsonl"
    last = json.loads(journal.read_text().splitlines()[-1])
    assert last["event"] == "refused"
    assert "stale plan" in last["reason"]


def test_a_plan_made_stale_by_a_tms_change_is_refused_and_applies_nothing(world: World) -> None:
    apply_all(world)
    path = world.repo.path_of("sub-2")
    path.write_text(path.read_text().replace("P.O. Box 840267", "P.O. Box 1"))
    world.commit("new NOA")
    assert world.rtssync("plan", "--out", "../plan.json").returncode == 0
    target = world.live_by_name("Subsidiary 2 LLC")
    world.ui_edit(target.tms_id, notice_of_assignment="edited in the UI meanwhile\n")
    before = snapshot(world)
    result = world.rtssync("apply", str(world.tmp_path / "plan.json"), keys=True)
    assert result.returncode == 1
    assert "stale plan" in result.stderr
    assert f"TMS subsidiary {target.tms_id} changed since the plan was made (ETag)" in (
        result.stderr)
    assert snapshot(world) == before
    assert world.live_by_name("Subsidiary 2 LLC").notice_of_assignment == (
        "edited in the UI meanwhile\n")


def test_a_hand_edited_plan_fails_its_checksum(world: World) -> None:
    world.rtssync("plan", "--out", "../plan.json")
    saved = world.tmp_path / "plan.json"
    document = json.loads(saved.read_text())
    document["changes"] = document["changes"][:1]
    saved.write_text(json.dumps(document))
    result = world.rtssync("apply", str(saved), keys=True)
    assert result.returncode == 1
    assert "checksum" in result.stderr
    assert world.live() == []


def test_a_removed_file_removes_nothing_unless_prune(world: World) -> None:
    apply_all(world)
    world.repo.path_of("sub-3").unlink()
    world.commit("sub-3 stops factoring with RTS")
    plan = world.rtssync("plan", "--detailed-exitcode")
    assert plan.returncode == 0  # informational only
    assert "set prune: true to remove it" in plan.stdout
    assert "No changes" in world.rtssync("apply", "--yes", keys=True).stdout
    assert world.live_by_name("Subsidiary 3 LLC").rts_ftp is not None

    world.set_settings(prune=True)
    world.commit("prune")
    plan = world.rtssync("plan", "--detailed-exitcode")
    assert plan.returncode == 2
    assert "- remove RTS FTP from 'Subsidiary 3 LLC'" in plan.stdout
    apply_all(world)
    assert world.live_by_name("Subsidiary 3 LLC").rts_ftp is None
    assert world.rtssync("plan", "--detailed-exitcode").returncode == 0


def test_safety_limits_stop_an_apply_and_force_passes_them(world: World) -> None:
    apply_all(world)
    world.set_settings(prune=True)
    world.repo.path_of("sub-2").unlink()
    world.repo.path_of("sub-3").unlink()
    world.commit("two subsidiaries leave RTS")
    before = snapshot(world)
    stopped = world.rtssync("apply", "--yes", keys=True)
    assert stopped.returncode == 1
    assert "safety.max_deletes (1)" in stopped.stderr
    assert "--force" in stopped.stderr
    assert snapshot(world) == before
    forced = world.rtssync("apply", "--yes", "--force", keys=True)
    assert forced.returncode == 0, forced.stderr
    assert [s.rts_ftp for s in world.live() if s.fields.name != "Subsidiary 1 LLC"] == [None, None]


def test_the_update_fraction_limit_names_itself(world: World) -> None:
    apply_all(world)
    for key in ("sub-1", "sub-2"):
        path = world.repo.path_of(key)
        path.write_text(path.read_text().replace("P.O. Box 840267", "P.O. Box 2"))
    world.commit("new NOA for two of three")
    stopped = world.rtssync("apply", "--yes", keys=True)
    assert stopped.returncode == 1
    assert "safety.max_update_fraction" in stopped.stderr
    assert world.rtssync("apply", "--yes", "--force", keys=True).returncode == 0


def test_the_journal_records_every_applied_change(world: World) -> None:
    apply_all(world)
    journal = world.root / ".rtssync" / "journal.jsonl"
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    changes = [e for e in entries if e["event"] == "change"]
    assert len(changes) == 12
    assert len({e["run"] for e in entries}) == 1  # one apply, one run id
    assert {e["outcome"] for e in changes} == {"applied"}
    assert oct(journal.stat().st_mode & 0o777) == "0o600"
