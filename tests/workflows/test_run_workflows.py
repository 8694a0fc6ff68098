"""The workflows ``rtssync init`` writes, run step by step against the reference TMS server.

Each test takes a workflow's job as the YAML says, runs its ``run:`` steps with bash in a real
config repository (made by ``rtssync init``, changed like a pull request) with the env the
workflow sets, against the reference TMS over loopback HTTP. Steps that talk to GitHub
(artifacts, comments, issues) are not run; their inputs are checked to exist instead. This
proves the commands, flags, paths and exit-code handling in the workflows actually work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from rtssync.model import Invoicing, InvoicingMethod
from rtssync.scaffold import init_repository
from tests.repo_factory import git_commit_all
from tests.tms.server_fixture import RunningServer, run_server
from tests.workflows.runner import JobRun, base_env, load_workflow, run_job

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT_ROOT / "rtssync" / "templates" / "workflows"
ALPHA_NOA = "NOTICE OF ASSIGNMENT: Alpha Freight's invoices are assigned to RTS Financial.\n"


@dataclass
class Scene:
    """A config repository on GitHub, as far as the workflows can tell."""

    root: Path
    tmp: Path
    server: RunningServer
    user_env: dict[str, str]
    """The repository owner's shell: their sops keys file is where init put it."""
    age_secret_key: str
    """What the owner stored as the SOPS_AGE_KEY repository secret."""

    def secrets(self, **overrides: str) -> dict[str, str]:
        secrets = {
            "SOPS_AGE_KEY": self.age_secret_key,
            "RTSSYNC_TMS_CLIENT_ID": self.server.client_id,
            "RTSSYNC_TMS_CLIENT_SECRET": self.server.client_secret,
        }
        secrets.update(overrides)
        return {k: v for k, v in secrets.items() if v}

    def run(self, workflow: str, job: str, name: str, **secret_overrides: str) -> JobRun:
        """Run one job on a fresh runner: a clean home, the repository as checked out."""
        document = load_workflow(WORKFLOWS / workflow)
        runner = self.tmp / "runners" / name
        return run_job(document["jobs"][job], self.root,
                       secrets=self.secrets(**secret_overrides),
                       env=base_env(runner / "home"), scratch=runner / "scratch")

    def rtssync(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.user_env, **self.server.env()}
        return subprocess.run([sys.executable, "-m", "rtssync", "-C", str(self.root), *args],
                              env=env, input=stdin, capture_output=True, text=True, check=False)

    def git(self, *args: str) -> None:
        subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    """``rtssync init``, pointed at the reference TMS over HTTP, committed on main."""
    user_env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE_")}
    user_env.update({"HOME": str(tmp_path / "owner"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    result = init_repository(tmp_path / "repo", environ=user_env)
    assert result.recipient.key_file is not None
    secret_key = next(line for line in result.recipient.key_file.read_text().splitlines()
                      if line.startswith("AGE-SECRET-KEY-"))
    with run_server(tmp_path / "tms.sqlite") as server:
        settings_file = result.root / "rtssync.yaml"
        settings = yaml.safe_load(settings_file.read_text())
        settings["tms"] = {"kind": "http", "url": server.url}
        settings_file.write_text(yaml.safe_dump(settings, sort_keys=False))
        git_commit_all(result.root, "rtssync init, pointed at our TMS")
        yield Scene(result.root, tmp_path, server, user_env, secret_key)


def open_pull_request(scene: Scene, password: str) -> None:
    """On a branch: a new subsidiary with real credentials, and a reworded example NOA."""
    scene.git("checkout", "-q", "-b", "add-alpha")
    example = scene.root / "config/subsidiaries/example-freight.yaml"
    alpha = scene.root / "config/subsidiaries/alpha-freight.yaml"
    text = example.read_text()
    text = text.replace("Example Freight LLC", "Alpha Freight LLC")
    text = text.replace('"100001"', '"100002"').replace('"2000001"', '"2000002"')
    text = text.replace("  NOTICE OF ASSIGNMENT: Paste the exact Notice of Assignment text that "
                        "RTS Financial supplied\n  for this subsidiary here. Every invoice "
                        "carries it.\n", "  " + ALPHA_NOA)
    assert ALPHA_NOA in text
    alpha.write_text(text)
    secrets_set = scene.rtssync("secrets", "set", "alpha-freight", "--username", "rts-alpha",
                                "--password-stdin", stdin=password + "\n")
    assert secrets_set.returncode == 0, secrets_set.stderr
    git_commit_all(scene.root, "Add Alpha Freight")


def merge_pull_request(scene: Scene) -> None:
    scene.git("checkout", "-q", "main")
    scene.git("merge", "-q", "--ff-only", "add-alpha")


def everything_written(job: JobRun, *files: Path) -> str:
    parts = [job.summary, *(s.stdout + s.stderr for s in job.steps)]
    parts += [f.read_text() for f in files if f.is_file()]
    return "\n".join(parts)


def assert_success(job: JobRun) -> None:
    failed = [(s.name, s.exit_code, s.stderr[-2000:]) for s in job.steps if s.status == "failure"]
    assert job.succeeded, failed


def test_pull_request_plan_validates_plans_and_leaves_the_comment_and_artifact(
    scene: Scene, canary_password: str
) -> None:
    open_pull_request(scene, canary_password)

    job = scene.run("rtssync-plan.yml", "plan", "pr", SOPS_AGE_KEY="")

    assert_success(job)
    assert job.step("Validate").stdout.strip() == "2 subsidiaries valid"
    plan_md = scene.root / "rtssync-plan" / "plan.md"
    plan_json = scene.root / "rtssync-plan" / "plan.json"
    markdown = plan_md.read_text()
    assert "Alpha Freight LLC" in markdown
    assert "Example Freight LLC" in markdown
    assert markdown in job.summary
    saved = json.loads(plan_json.read_text())
    assert {c.get("key") for c in saved["changes"]} >= {"alpha-freight", "example-freight"}
    upload = next(a for a in job.actions() if a.step["uses"].startswith("actions/upload-artifact"))
    assert (scene.root / upload.step["with"]["path"]).is_dir()
    # The comment job downloads that artifact into rtssync-plan/ and reads PLAN_MARKDOWN there.
    comment = load_workflow(WORKFLOWS / "rtssync-plan.yml")["jobs"]["comment"]
    download, post = comment["steps"]
    assert download["with"]["path"] == "rtssync-plan"
    assert (scene.root / post["env"]["PLAN_MARKDOWN"]).samefile(plan_md)
    written = everything_written(job, plan_md, plan_json)
    assert canary_password not in written
    assert "rts-alpha" not in written


def test_a_broken_pull_request_replaces_the_comment_with_what_validate_found(
    scene: Scene, canary_password: str
) -> None:
    open_pull_request(scene, canary_password)
    alpha = scene.root / "config/subsidiaries/alpha-freight.yaml"
    alpha.write_text(alpha.read_text().replace('mc_number: "100002"', 'mc_number: "100001"'))
    git_commit_all(scene.root, "Oops: Alpha gets Example's MC number")

    job = scene.run("rtssync-plan.yml", "plan", "broken-pr", SOPS_AGE_KEY="")

    assert job.step("Validate").status == "failure"
    assert job.step("Plan").status == "skipped"
    assert job.step("Explain a failed plan").status == "success"
    assert job.step("Upload the plan").status == "action"
    markdown = (scene.root / "rtssync-plan" / "plan.md").read_text()
    assert markdown.startswith("### rtssync could not plan this pull request\n")
    assert "config/subsidiaries/alpha-freight.yaml:" in markdown
    assert "100001" in markdown
    assert "Details: https://github.com/acme/rts-config/actions/runs/4242" in markdown
    assert markdown in job.summary
    assert canary_password not in everything_written(job)


def test_merge_applies_with_the_key_from_the_secret_and_keeps_the_journal(
    scene: Scene, canary_password: str
) -> None:
    open_pull_request(scene, canary_password)
    merge_pull_request(scene)

    job = scene.run("rtssync-apply.yml", "apply", "merge")

    assert_success(job)
    live = {s.fields.name: s for s in scene.server.store.list_subsidiaries()}
    assert set(live) == {"Alpha Freight LLC", "Example Freight LLC"}
    assert live["Alpha Freight LLC"].notice_of_assignment == ALPHA_NOA
    assert live["Alpha Freight LLC"].rts_ftp is not None
    assert live["Alpha Freight LLC"].rts_ftp.username == "rts-alpha"
    assert live["Alpha Freight LLC"].rts_ftp.password_set
    journal_upload = next(a for a in job.actions()
                          if a.step["uses"].startswith("actions/upload-artifact"))
    journal = scene.root / journal_upload.step["with"]["path"]
    assert journal.is_file()
    assert journal_upload.step["if"] == "always()"
    assert canary_password not in everything_written(job, journal)


def test_apply_without_the_key_secret_fails_and_sets_no_credentials(
    scene: Scene, canary_password: str
) -> None:
    open_pull_request(scene, canary_password)
    merge_pull_request(scene)

    job = scene.run("rtssync-apply.yml", "apply", "no-key", SOPS_AGE_KEY="")

    assert job.step("Apply").status == "failure"
    assert job.step("Apply").exit_code == 1
    assert "Traceback" not in job.step("Apply").stderr
    apply = job.step("Apply")
    assert "no age identity can decrypt" in apply.stdout + apply.stderr, apply.stdout
    assert all(s.rts_ftp is None for s in scene.server.store.list_subsidiaries())
    assert job.step("Upload the journal").status == "action"  # if: always()


def converge(scene: Scene) -> None:
    """What merging and the apply workflow leave behind: git and the TMS in step."""
    applied = scene.rtssync("apply", "--yes")
    assert applied.returncode == 0, applied.stderr


def test_drift_schedule_is_quiet_when_in_step_and_fails_on_a_change_made_in_the_tms(
    scene: Scene,
) -> None:
    converge(scene)

    quiet = scene.run("rtssync-drift.yml", "drift", "quiet")

    assert_success(quiet)
    assert quiet.outputs["drift"]["status"] == "0"
    assert quiet.step("Fail on drift").status == "skipped"
    issue = quiet.step("Open, update or close the drift issue")
    assert issue.status == "action"  # runs on no drift too, to close a resolved issue
    assert issue.step["env"]["DRIFT_STATUS"] == "${{ steps.drift.outputs.status }}"

    example = scene.server.store.list_subsidiaries()[0]
    scene.server.store.ui_edit(example.tms_id, invoicing=Invoicing(InvoicingMethod.EMAIL, True))
    drifted = scene.run("rtssync-drift.yml", "drift", "drifted")

    assert drifted.outputs["drift"]["status"] == "2"
    assert drifted.step("Plan with a detailed exit code").status == "success"
    assert drifted.step("Open, update or close the drift issue").status == "action"
    assert (scene.root / issue.step["env"]["PLAN_MARKDOWN"]).read_text().strip()
    assert drifted.step("Fail on drift").status == "failure"
    assert not drifted.succeeded


def test_drift_schedule_fails_on_an_error_without_touching_the_issue(scene: Scene) -> None:
    converge(scene)

    job = scene.run("rtssync-drift.yml", "drift", "error",
                    RTSSYNC_TMS_CLIENT_SECRET="not-the-secret")

    detect = job.step("Plan with a detailed exit code")
    assert detect.status == "failure"
    assert detect.exit_code == 1
    assert "rtssync plan failed (exit 1)" in detect.stdout
    assert job.outputs["drift"]["status"] == "1"
    assert job.step("Open, update or close the drift issue").status == "skipped"
    assert "not-the-secret" not in everything_written(job)


def test_the_project_copies_run_the_same_steps() -> None:
    """What the project's own workflows run is what these tests ran (bar the install)."""
    project = PROJECT_ROOT / ".github" / "workflows"
    for name in ("rtssync-plan.yml", "rtssync-apply.yml", "rtssync-drift.yml"):
        ours, theirs = load_workflow(project / name), load_workflow(WORKFLOWS / name)
        for job in theirs["jobs"]:
            runs = [[s.get("run") for s in w["jobs"][job]["steps"]
                     if "pip install" not in str(s.get("run"))] for w in (ours, theirs)]
            assert runs[0] == runs[1]


def test_runner_refuses_expressions_it_does_not_understand(tmp_path: Path) -> None:
    job = {"steps": [{"name": "x", "env": {"A": "${{ github.token }}"}, "run": "true"}]}

    with pytest.raises(NotImplementedError):
        run_job(job, tmp_path, secrets={}, env=base_env(tmp_path / "h"), scratch=tmp_path / "s")


def test_a_failing_step_skips_the_rest_unless_always(tmp_path: Path) -> None:
    job = {"steps": [{"name": "a", "run": "exit 3"}, {"name": "b", "run": "true"},
                     {"name": "c", "if": "always()", "run": "true"}]}

    result = run_job(job, tmp_path, secrets={}, env=base_env(tmp_path / "h"),
                     scratch=tmp_path / "s")

    assert [(s.name, s.status, s.exit_code) for s in result.steps] == [
        ("a", "failure", 3), ("b", "skipped", None), ("c", "success", 0)]


@pytest.fixture(autouse=True)
def _need_git() -> None:
    if shutil.which("git") is None:  # pragma: no cover - git is part of the test machine
        pytest.fail("git is required")


def project_example(tmp_path: Path) -> Path:
    """The project's own example config repository, as a clone of it would have it."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("rtssync.yaml", ".sops.yaml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    for folder in ("config", "schemas"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    git_commit_all(root, "The example")
    return root


def test_the_project_workflows_plan_and_apply_the_shipped_example(tmp_path: Path) -> None:
    """The project's own copies run on its example; apply needs the demo key as SOPS_AGE_KEY."""
    root = project_example(tmp_path)
    demo_key = next(line for line in
                    (PROJECT_ROOT / "demo-keys" / "DEMO-ONLY-age-key.txt").read_text().splitlines()
                    if line.startswith("AGE-SECRET-KEY-"))
    project = PROJECT_ROOT / ".github" / "workflows"

    def run(workflow: str, job: str, secrets: dict[str, str]) -> JobRun:
        runner = tmp_path / "runners" / workflow
        return run_job(load_workflow(project / workflow)["jobs"][job], root, secrets=secrets,
                       env=base_env(runner / "home"), scratch=runner / "scratch")

    planned = run("rtssync-plan.yml", "plan", {})
    applied = run("rtssync-apply.yml", "apply", {"SOPS_AGE_KEY": demo_key})

    assert_success(planned)
    assert planned.step("Install rtssync").step["run"] == "python -m pip install -e ."
    assert "Alpha" in (root / "rtssync-plan" / "plan.md").read_text()
    assert_success(applied)
    assert (root / ".rtssync" / "journal.jsonl").is_file()
