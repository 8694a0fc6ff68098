"""Saved plans: round trip, checksum, and staleness by desired file or by live version."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from rtssync.errors import StalePlanError
from rtssync.plan import Plan, build_plan
from rtssync.planfile import (
    PlanFileError,
    checksum,
    current_commit,
    read_plan,
    stale_reasons,
    write_plan,
)
from tests.plan_records import ALLOWED, ROOT, by_key, desired, live_for
from tests.repo_factory import git_commit_all

DIGESTS = {"config/subsidiaries/sub-1.yaml": "a" * 64, "config/subsidiaries/sub-2.yaml": "b" * 64}


def saved_plan(**changes: object) -> Plan:
    files = by_key(desired(1), desired(2))
    live = [live_for(desired(1), notice_of_assignment="old\n")]
    plan = build_plan(files, live, root=ROOT, allowed_hosts=ALLOWED, desired_digests=DIGESTS,
                      commit="0" * 40)
    return replace(plan, **changes)  # type: ignore[arg-type]


def test_a_saved_plan_reads_back_equal(tmp_path: Path) -> None:
    plan = saved_plan()
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert read_plan(path) == plan
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_plan_saved_over_a_world_readable_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_plan(saved_plan(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_tampered_plan_fails_its_checksum(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(saved_plan(), path)
    document = json.loads(path.read_text())
    document["changes"][0]["after"] = {"name": "Someone Else"}
    path.write_text(json.dumps(document))
    with pytest.raises(StalePlanError, match="checksum"):
        read_plan(path)


def test_not_a_plan_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{not json")
    with pytest.raises(PlanFileError, match=r"plan\.json:1:2"):
        read_plan(path)
    path.write_text('{"format": "something-else"}')
    with pytest.raises(PlanFileError, match="not an rtssync plan"):
        read_plan(path)


def test_same_inputs_are_fresh() -> None:
    assert stale_reasons(saved_plan(), saved_plan()) == []


def test_a_changed_desired_file_makes_the_plan_stale() -> None:
    now = saved_plan(desired_digests={**DIGESTS, "config/subsidiaries/sub-2.yaml": "c" * 64})
    assert stale_reasons(saved_plan(), now) == [
        "desired file config/subsidiaries/sub-2.yaml changed since the plan was made"
    ]


def test_an_added_or_removed_desired_file_makes_the_plan_stale() -> None:
    now = saved_plan(desired_digests={"config/subsidiaries/sub-1.yaml": "a" * 64,
                                      "config/subsidiaries/sub-3.yaml": "d" * 64})
    reasons = stale_reasons(saved_plan(), now)
    assert "desired file config/subsidiaries/sub-2.yaml removed since the plan was made" in reasons
    assert "desired file config/subsidiaries/sub-3.yaml added since the plan was made" in reasons


def test_a_new_live_etag_makes_the_plan_stale() -> None:
    before = saved_plan()
    (tms_id, version), = before.live_versions.items()
    now = replace(before, live_versions={tms_id: replace(version, etag='W/"2"')})
    assert stale_reasons(before, now) == [
        f"TMS subsidiary {tms_id} changed since the plan was made (ETag)"
    ]


def test_a_live_subsidiary_appearing_makes_the_plan_stale() -> None:
    before = saved_plan()
    (tms_id, version), = before.live_versions.items()
    now = replace(before, live_versions={tms_id: version, "T-new": version})
    assert stale_reasons(before, now) == ["TMS subsidiary T-new appeared since the plan was made"]


def test_commit_is_head_in_git_and_none_outside(tmp_path: Path) -> None:
    assert current_commit(tmp_path) is None
    (tmp_path / "f").write_text("x")
    head = git_commit_all(tmp_path, "one")
    assert current_commit(tmp_path) == head


def test_a_crafted_plan_with_a_recomputed_checksum_still_cannot_change_what_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plan.json"
    write_plan(saved_plan(), path)
    document = json.loads(path.read_text())
    document["changes"][0]["action"] = "remove_ftp"
    document["checksum"] = checksum(document)
    path.write_text(json.dumps(document))
    crafted = read_plan(path)  # well-formed, checksum fine...
    assert stale_reasons(crafted, saved_plan()) == [  # ...but not what these inputs give
        "the same inputs now give different changes (another rtssync version?)"
    ]


def test_a_plan_of_the_wrong_shape_says_where(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(saved_plan(), path)
    document = json.loads(path.read_text())
    document["changes"][1]["kind"] = "delete_everything"
    document["checksum"] = checksum(document)
    path.write_text(json.dumps(document))
    with pytest.raises(PlanFileError, match=r"changes/1/kind"):
        read_plan(path)
