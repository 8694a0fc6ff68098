"""Run a GitHub workflow job's ``run:`` steps locally, in order, the way the runner would.

Only what rtssync's workflows use is implemented, and anything else fails loudly rather than
being guessed: ``${{ secrets.X }}`` and ``${{ steps.ID.outputs.X }}`` in ``env:``; ``if:`` with
``always()``, ``!cancelled()``, ``failure()`` or ``steps.ID.outputs.X == 'V'``; the
``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY`` files; and the runner's default shell
(``bash -e``). Steps that call an action (``uses:``) talk to GitHub and are not run; they are
returned so tests can check their inputs exist.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
OUTPUT_CONDITION = re.compile(r"^steps\.([\w-]+)\.outputs\.([\w-]+)\s*==\s*'([^']*)'$")
INSTALL_STEP = re.compile(r'^python -m pip install (?:"rtssync==[^"]+"|-e \.)$')


@dataclass
class StepRun:
    """What happened to one step."""

    name: str
    status: str
    """"success", "failure", "skipped" (condition false or an earlier failure) or "action"."""
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    step: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobRun:
    steps: list[StepRun]
    outputs: dict[str, dict[str, str]]
    summary: str

    @property
    def succeeded(self) -> bool:
        return all(step.status != "failure" for step in self.steps)

    def step(self, name: str) -> StepRun:
        return next(step for step in self.steps if step.name == name)

    def actions(self) -> list[StepRun]:
        return [step for step in self.steps if step.status == "action"]


def load_workflow(path: Path) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in document:  # YAML 1.1 reads the key `on` as True
        document["on"] = document.pop(True)
    return document


def run_job(
    job: Mapping[str, Any],
    workdir: Path,
    *,
    secrets: Mapping[str, str],
    env: Mapping[str, str],
    scratch: Path,
) -> JobRun:
    """Run the job's steps in ``workdir``; ``scratch`` holds the runner's own files."""
    scratch.mkdir(parents=True, exist_ok=True)
    summary_file = scratch / "step-summary.md"
    summary_file.write_text("")
    outputs: dict[str, dict[str, str]] = {}
    runs: list[StepRun] = []
    for index, step in enumerate(job["steps"]):
        name = str(step.get("name", f"step {index}"))
        failed_before = any(run.status == "failure" for run in runs)
        if not _should_run(step.get("if"), outputs, failed_before):
            runs.append(StepRun(name, "skipped", step=dict(step)))
            continue
        if "uses" in step:
            runs.append(StepRun(name, "action", step=dict(step)))
            continue
        if INSTALL_STEP.match(step["run"].strip()):
            # rtssync is already installed in this venv; the command itself is checked above.
            runs.append(StepRun(name, "success", 0, step=dict(step)))
            continue
        output_file = scratch / f"output-{index}"
        output_file.write_text("")
        step_env = {
            **env,
            **{k: _expand(str(v), secrets, outputs) for k, v in step.get("env", {}).items()},
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
        }
        runs.append(_run_script(name, step, workdir, step_env))
        if "id" in step:
            outputs[str(step["id"])] = _read_outputs(output_file)
    return JobRun(runs, outputs, summary_file.read_text())


def _should_run(condition: Any, outputs: Mapping[str, Mapping[str, str]],
                failed_before: bool) -> bool:
    """GitHub's rule: no condition means success(); ``always()`` runs even after failures."""
    if condition is None:
        return not failed_before
    text = str(condition).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2].strip()
    if text == "always()":
        return True
    if text == "!cancelled()":
        return True  # nothing is ever cancelled here
    if text == "failure()":
        return failed_before
    match = OUTPUT_CONDITION.match(text)
    if match is None:
        raise NotImplementedError(f"the test runner does not evaluate `if: {condition}`")
    step_id, name, value = match.groups()
    return not failed_before and outputs.get(step_id, {}).get(name, "") == value


def _expand(value: str, secrets: Mapping[str, str],
            outputs: Mapping[str, Mapping[str, str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        expression = match.group(1)
        parts = expression.split(".")
        if len(parts) == 2 and parts[0] == "secrets":
            return secrets.get(parts[1], "")  # an unset secret is empty, as on GitHub
        if len(parts) == 4 and parts[0] == "steps" and parts[2] == "outputs":
            return outputs.get(parts[1], {}).get(parts[3], "")
        raise NotImplementedError(f"the test runner does not evaluate `${{{{ {expression} }}}}`")

    return EXPRESSION.sub(replace, value)


def _run_script(name: str, step: Mapping[str, Any], workdir: Path,
                env: Mapping[str, str]) -> StepRun:
    if step.get("shell") not in (None, "bash"):
        raise NotImplementedError(f"shell {step.get('shell')!r}")
    # The runner's default on Linux: `bash -e {0}` (with `shell: bash`, also pipefail).
    flags = ["-e"] if step.get("shell") is None else ["--noprofile", "--norc", "-eo", "pipefail"]
    result = subprocess.run(
        ["bash", *flags, "-c", step["run"]], cwd=workdir, env=dict(env),
        capture_output=True, text=True, check=False, timeout=240,
    )
    status = "success" if result.returncode == 0 else "failure"
    return StepRun(name, status, result.returncode, result.stdout, result.stderr, dict(step))


def _read_outputs(path: Path) -> dict[str, str]:
    """``name=value`` lines, as steps write them to ``$GITHUB_OUTPUT``."""
    outputs: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            outputs[key] = value
    return outputs


def base_env(home: Path) -> dict[str, str]:
    """The runner's environment: PATH (with this venv's rtssync) and an empty home.

    No age key is anywhere a sops-like search would find it, unless a step's env sets one.
    """
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                "GIT_CONFIG_NOSYSTEM": "1", "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "acme/rts-config", "GITHUB_RUN_ID": "4242"})
    home.mkdir(parents=True, exist_ok=True)
    return env
