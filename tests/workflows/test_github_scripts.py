"""The github-script steps' JavaScript, run with node against a recording GitHub client.

The workflow-run tests cannot call GitHub; these run the exact ``script:`` text from the
workflows to show the plan comment is one comment updated on each push, and the drift issue is
opened once, then updated, then closed when the drift is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.runner import load_workflow

WORKFLOWS = Path(__file__).resolve().parents[2] / "rtssync" / "templates" / "workflows"
HARNESS = Path(__file__).with_name("github_script_harness.js")
CONTEXT = {
    "repo": {"owner": "acme", "repo": "rts-config"},
    "payload": {"pull_request": {"number": 7}},
    "serverUrl": "https://github.com",
    "runId": 42,
}
PLAN_TEXT = "## rtssync plan\n\n1 to create\n"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def script_step(workflow: str, job: str) -> dict[str, Any]:
    steps = load_workflow(WORKFLOWS / workflow)["jobs"][job]["steps"]
    step: dict[str, Any] = next(s for s in steps
                                if str(s.get("uses", "")).startswith("actions/github-script@"))
    return step


def run_script(tmp_path: Path, workflow: str, job: str, state: dict[str, Any],
               env: dict[str, str]) -> list[dict[str, Any]]:
    """The calls the step's script makes, given what GitHub holds (``state``)."""
    step = script_step(workflow, job)
    script_file = tmp_path / "script.js"
    script_file.write_text(step["with"]["script"])
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({**state, "context": CONTEXT}))
    (tmp_path / "plan.md").write_text(PLAN_TEXT)
    step_env = {**os.environ, **{k: str(v) for k, v in step.get("env", {}).items()}, **env}
    result = subprocess.run(["node", str(HARNESS), str(script_file), str(state_file)],
                            cwd=tmp_path, env=step_env, capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    calls: list[dict[str, Any]] = [c for c in json.loads(result.stdout) if c["call"] != "paginate"]
    return calls


def plan_comment(tmp_path: Path, comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return run_script(tmp_path, "rtssync-plan.yml", "comment", {"comments": comments},
                      {"PLAN_MARKDOWN": "plan.md"})


def drift_issue(tmp_path: Path, status: str, issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return run_script(tmp_path, "rtssync-drift.yml", "drift", {"issues": issues},
                      {"DRIFT_STATUS": status, "PLAN_MARKDOWN": "plan.md"})


BOT = {"type": "Bot", "login": "github-actions[bot]"}


def test_first_push_creates_the_plan_comment_with_its_marker(tmp_path: Path) -> None:
    calls = plan_comment(tmp_path, [{"id": 1, "user": BOT, "body": "unrelated"}])

    assert calls == [{"call": "createComment", "params": {
        "owner": "acme", "repo": "rts-config", "issue_number": 7,
        "body": "<!-- rtssync-plan -->\n" + PLAN_TEXT}}]


def test_later_pushes_update_the_same_comment(tmp_path: Path) -> None:
    existing = {"id": 99, "user": BOT, "body": "<!-- rtssync-plan -->\nold plan"}

    calls = plan_comment(tmp_path, [{"id": 1, "user": BOT, "body": "x"}, existing])

    assert calls == [{"call": "updateComment", "params": {
        "owner": "acme", "repo": "rts-config", "comment_id": 99,
        "body": "<!-- rtssync-plan -->\n" + PLAN_TEXT}}]


def test_a_person_quoting_the_marker_is_not_overwritten(tmp_path: Path) -> None:
    quoted = {"id": 5, "user": {"type": "User", "login": "dana"},
              "body": "why does <!-- rtssync-plan --> show?"}

    calls = plan_comment(tmp_path, [quoted])

    assert [c["call"] for c in calls] == ["createComment"]


def test_drift_opens_one_issue(tmp_path: Path) -> None:
    calls = drift_issue(tmp_path, "2", [])

    assert [c["call"] for c in calls] == ["create"]
    assert calls[0]["params"]["title"] == "rtssync: the TMS has drifted from git"
    body = calls[0]["params"]["body"]
    assert body.startswith("<!-- rtssync-drift -->\n")
    assert "https://github.com/acme/rts-config/actions/runs/42" in body
    assert body.endswith(PLAN_TEXT)


def test_drift_again_updates_the_open_issue(tmp_path: Path) -> None:
    open_issue = {"number": 12, "body": "<!-- rtssync-drift -->\nold"}
    pull_request = {"number": 13, "body": "<!-- rtssync-drift -->", "pull_request": {}}

    calls = drift_issue(tmp_path, "2", [pull_request, open_issue])

    assert [(c["call"], c["params"]["issue_number"]) for c in calls] == [("update", 12)]


def test_no_drift_closes_the_open_issue(tmp_path: Path) -> None:
    calls = drift_issue(tmp_path, "0", [{"number": 12, "body": "<!-- rtssync-drift -->"}])

    assert [c["call"] for c in calls] == ["createComment", "update"]
    assert calls[1]["params"] == {"owner": "acme", "repo": "rts-config", "issue_number": 12,
                                  "state": "closed"}


def test_no_drift_and_no_issue_does_nothing(tmp_path: Path) -> None:
    assert drift_issue(tmp_path, "0", [{"number": 3, "body": "a human's issue"}]) == []
