"""``rtssync status``: last applied commit and time per subsidiary, and drift since."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rtssync.model import SubsidiaryFields
from rtssync.tms.local import LocalBackend
from tests.repo_factory import ConfigRepo, git_commit_all, make_config_repo, subsidiary


def rtssync(repo: ConfigRepo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtssync", "-C", str(repo.root), *args],
        capture_output=True, text=True, env=repo.sops_env(), check=False,
    )


def status_json(repo: ConfigRepo) -> dict[str, dict[str, Any]]:
    result = rtssync(repo, "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {row["key"]: row for row in json.loads(result.stdout)}


@pytest.fixture
def applied(tmp_path: Path) -> tuple[ConfigRepo, str]:
    repo = make_config_repo(tmp_path, [subsidiary(1), subsidiary(2)], init_git=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo.root, capture_output=True,
                          text=True, check=True).stdout.strip()
    result = rtssync(repo, "apply", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    return repo, head


def test_before_any_apply_every_file_is_not_in_the_tms(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)

    rows = status_json(repo)

    assert rows["sub-1"]["state"] == "not in the TMS"
    assert rows["sub-1"]["applied_commit"] is None


def test_after_apply_each_subsidiary_is_in_sync_at_the_applied_commit(
    applied: tuple[ConfigRepo, str],
) -> None:
    repo, head = applied

    rows = status_json(repo)

    assert {k: r["state"] for k, r in rows.items()} == {"sub-1": "in sync", "sub-2": "in sync"}
    assert rows["sub-1"]["applied_commit"] == head
    assert rows["sub-1"]["applied_at"].endswith("Z")
    text = rtssync(repo, "status").stdout
    assert head[:12] in text
    assert "in sync" in text


def test_an_edit_in_the_tms_shows_as_drift_naming_the_aspect(
    applied: tuple[ConfigRepo, str],
) -> None:
    repo, _ = applied
    with LocalBackend(repo.root / ".rtssync" / "tms.sqlite") as tms:
        target = next(s for s in tms.list_subsidiaries() if s.fields.mc_number == "100001")
        tms.ui_edit(target.tms_id, notice_of_assignment="Pay someone else.\n")

    rows = status_json(repo)

    assert rows["sub-1"]["state"] == "drifted"
    assert rows["sub-1"]["details"] == ["noa"]
    assert rows["sub-2"]["state"] == "in sync"


def test_a_committed_change_not_yet_applied_is_pending(applied: tuple[ConfigRepo, str]) -> None:
    repo, _ = applied
    path = repo.path_of("sub-2")
    path.write_text(path.read_text().replace("RTS Financial Service", "RTS Financial Services"))
    git_commit_all(repo.root, "NOA wording from RTS")

    rows = status_json(repo)

    assert rows["sub-2"]["state"] == "changes not applied"
    assert rows["sub-1"]["state"] == "in sync"


def test_a_tms_subsidiary_without_a_file_is_listed_as_unmanaged(
    applied: tuple[ConfigRepo, str],
) -> None:
    repo, _ = applied
    with LocalBackend(repo.root / ".rtssync" / "tms.sqlite") as tms:
        extra = tms.ui_create(SubsidiaryFields("Hand Made LLC", "555555", "6666666"))

    rows = status_json(repo)

    assert rows[f"tms:{extra.tms_id}"]["state"] == "unmanaged"
    assert rows[f"tms:{extra.tms_id}"]["name"] == "Hand Made LLC"
