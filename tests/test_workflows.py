"""The GitHub workflows: one source of truth, pinned actions, least privilege, no injection.

The templates in ``rtssync/templates/workflows`` are what ``rtssync init`` writes; the project's
``.github/workflows/rtssync-*.yml`` are the same files installing the checkout instead of a
release. After editing a template, regenerate the project's copies with

    RTSSYNC_REGENERATE_WORKFLOWS=1 .venv/bin/python -m pytest tests/test_workflows.py

actionlint and zizmor run on both folders from ``.ci/lint-workflows``; these tests pin down the
properties that matter to rtssync specifically.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from rtssync.scaffold import WORKFLOW_NAMES, project_workflow_text

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / ".github" / "workflows"
TEMPLATES = ROOT / "rtssync" / "templates" / "workflows"
ALL_WORKFLOWS = sorted([*PROJECT.glob("*.yml"), *TEMPLATES.glob("*.yml")])

# The one pinned commit per action (checked against the tags' published commits).
PINNED = {
    "actions/checkout": ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "actions/upload-artifact": ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "actions/download-artifact": ("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
    "actions/github-script": ("60a0d83039c74a4aee543508d2ffcb1c3799cdea", "v7.0.1"),
}
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+?)@(\S+)(?:\s+#\s*(\S+))?\s*$")


def load(path: Path) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def template(name: str) -> dict[str, Any]:
    return load(TEMPLATES / name)


def test_project_workflows_are_the_templates_installing_the_checkout() -> None:
    regenerate = os.environ.get("RTSSYNC_REGENERATE_WORKFLOWS") == "1"
    for name in WORKFLOW_NAMES:
        expected = project_workflow_text(name)
        if regenerate:
            (PROJECT / name).write_text(expected, encoding="utf-8")
        assert (PROJECT / name).read_text(encoding="utf-8") == expected, (
            f"{name} differs from its template: edit rtssync/templates/workflows/{name} and "
            "regenerate (see this module's docstring)"
        )
    assert "python -m pip install -e ." in (PROJECT / "rtssync-plan.yml").read_text()


def test_the_project_has_a_ci_workflow_running_ci_run() -> None:
    ci = load(PROJECT / "ci.yml")

    assert set(ci["on"]) == {"push", "pull_request"}
    assert [s["run"] for s in steps(ci) if "run" in s] == ["bash .ci/run"]


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_action_is_pinned_to_one_full_commit_with_its_version(path: Path) -> None:
    uses = [USES_LINE.match(line) for line in path.read_text().splitlines()
            if re.match(r"^\s*(-\s+)?uses:", line)]

    assert uses, "a workflow without actions?"
    for match in uses:
        assert match is not None
        action, ref, comment = match.groups()
        assert (ref, comment) == PINNED[action], f"{action}@{ref} # {comment}"


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_least_privilege_and_no_credentials_left_behind(path: Path) -> None:
    document = load(path)

    assert document["permissions"] == {}
    assert "pull_request_target" not in document["on"]
    for job in document["jobs"].values():
        assert "permissions" in job
        assert "write-all" not in str(job["permissions"])
    for step in steps(document):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_expression_in_scripts_and_secrets_only_through_env(path: Path) -> None:
    for step in steps(load(path)):
        assert "${{" not in step.get("run", ""), step.get("name")
        assert "${{" not in str(step.get("with", {}).get("script", "")), step.get("name")
        outside_env = {k: v for k, v in step.items() if k != "env"}
        assert "secrets." not in str(outside_env), step.get("name")
        for name, value in step.get("env", {}).items():
            if "secrets." in str(value):
                assert value == f"${{{{ secrets.{name} }}}}", name


def test_only_apply_holds_the_sops_key() -> None:
    holders = [name for name in WORKFLOW_NAMES
               if "SOPS_AGE_KEY" in (TEMPLATES / name).read_text()]

    assert holders == ["rtssync-apply.yml"]


def test_plan_on_pull_request_validates_plans_and_keeps_one_comment() -> None:
    workflow = template("rtssync-plan.yml")
    runs = [s["run"] for s in steps(workflow) if "run" in s]
    comment_job = workflow["jobs"]["comment"]
    script = comment_job["steps"][-1]["with"]["script"]

    assert list(workflow["on"]) == ["pull_request"]
    assert workflow["jobs"]["plan"]["permissions"] == {"contents": "read"}
    assert "if ! rtssync validate 2> rtssync-plan/validate.txt" in runs[1]
    assert "rtssync plan --out rtssync-plan/plan.json --format markdown" in runs[2]
    assert '>> "$GITHUB_STEP_SUMMARY"' in runs[2]
    assert comment_job["permissions"] == {"pull-requests": "write"}
    # A failing push still replaces the comment, so nobody reviews a stale plan.
    assert comment_job["if"].startswith("${{ !cancelled() && ")
    assert "<!-- rtssync-plan -->" in script
    assert "updateComment" in script
    assert "createComment" in script


def test_apply_on_main_runs_one_at_a_time_and_keeps_the_journal() -> None:
    workflow = template("rtssync-apply.yml")
    apply_step = next(s for s in steps(workflow) if s.get("name") == "Apply")

    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["concurrency"] == {"group": "rtssync-apply", "cancel-in-progress": False}
    assert apply_step["run"] == "rtssync apply --yes"
    assert apply_step["env"]["SOPS_AGE_KEY"] == "${{ secrets.SOPS_AGE_KEY }}"
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact@")
               and s.get("if") == "always()" for s in steps(workflow))


def test_drift_on_schedule_uses_the_detailed_exit_code() -> None:
    workflow = template("rtssync-drift.yml")
    drift = next(s for s in steps(workflow) if s.get("id") == "drift")

    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    assert "rtssync plan --detailed-exitcode" in drift["run"]
    assert workflow["jobs"]["drift"]["permissions"] == {"contents": "read", "issues": "write"}
    assert steps(workflow)[-1]["if"] == "steps.drift.outputs.status == '2'"


def test_pre_commit_hook_validates_only_when_config_changes() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "rtssync-validate")
    pattern = re.compile(hook["files"])

    assert hook["entry"] == "rtssync validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    for path in ("config/subsidiaries/a.yaml", "rtssync.yaml", ".sops.yaml"):
        assert pattern.search(path), path
    for path in ("README.md", "schemas/plan.schema.json", ".github/workflows/x.yml"):
        assert not pattern.search(path), path
