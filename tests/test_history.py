"""``rtssync history``: a scripted series of real commits is reported change by change.

The repository is built like a user's: the real ``sops`` binary encrypts and rotates the
credentials, edits are made to the files as text (as in an editor or the GitHub web UI), and
renames and removals go through git.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from rtssync.cli import cli
from rtssync.history_compare import count_changed_lines
from tests.repo_factory import (
    ConfigRepo,
    git_commit_all,
    make_config_repo,
    sops_binary,
    subsidiary,
)

NEW_NOA_LINES = (
    "NOTICE OF ASSIGNMENT: This account has been assigned and must be paid only to\n"
    "RTS Financial Service, Inc., P.O. Box 840267, Dallas, TX 75284-0267.\n"
    "Questions about this assignment: (877) 460-9606.\n"
    "RTS Financial must be notified promptly at (877) 460-9606 of any claims or offsets\n"
    "against this invoice.\n"
    "Remit electronically where possible.\n"
)
ROTATED_PASSWORD_SUFFIX = "-rotated"


@dataclass(frozen=True)
class ScriptedHistory:
    """The repository and the commit ids of each scripted step, in order."""

    repo: ConfigRepo
    commits: dict[str, str]


def run_history(root: Path, *args: str) -> tuple[int, str]:
    """Run ``rtssync -C root history ...`` and return the exit code and all output."""
    result = CliRunner().invoke(cli, ["-C", str(root), "history", *args])
    return result.exit_code, result.output


def edit_text(path: Path, old: str, new: str) -> None:
    """Edit a file as text, the way an editor or the GitHub web UI would."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit_yaml(path: Path, change: dict[str, Any]) -> None:
    """Replace top-level fields, keeping the rest (sops metadata included) as it was."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document.update(change)
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")


def sops_set_password(repo: ConfigRepo, key: str, password: str) -> None:
    """Rotate a password with the real sops binary (``sops set``), value on stdin."""
    subprocess.run(
        [sops_binary(), "set", "--value-stdin", repo.relpath_of(key),
         '["factoring"]["ftp"]["password"]'],
        cwd=repo.root, env=repo.sops_env(), input=json.dumps(password), text=True,
        capture_output=True, check=True,
    )


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> ScriptedHistory:
    """initial → NOA edit → rotation (sops) → host move → rename → record fields → removal."""
    from tests.conftest import CANARY_PASSWORD

    tmp_path = tmp_path_factory.mktemp("history")
    repo = make_config_repo(tmp_path, [subsidiary(1), subsidiary(2)], password=CANARY_PASSWORD)
    commits = {"initial": git_commit_all(repo.root, "Add the first two subsidiaries")}

    edit_yaml(repo.path_of("sub-1"), {"notice_of_assignment": NEW_NOA_LINES})
    commits["noa"] = git_commit_all(repo.root, "Update sub-1 NOA wording from RTS")

    sops_set_password(repo, "sub-1", CANARY_PASSWORD + ROTATED_PASSWORD_SUFFIX)
    commits["rotate"] = git_commit_all(repo.root, "Rotate sub-1 RTS FTP password")

    edit_text(repo.path_of("sub-1"), "host: devftp.rtsfinancial.com", "host: ftp.rtsfinancial.com")
    commits["host"] = git_commit_all(repo.root, "Move sub-1 to the production FTP host")

    git(repo.root, "mv", repo.relpath_of("sub-1"), "config/subsidiaries/alpha-freight.yaml")
    commits["rename"] = git_commit_all(repo.root, "Rename sub-1 to alpha-freight")

    alpha = repo.subsidiaries_dir / "alpha-freight.yaml"
    edit_yaml(alpha, {"name": "Alpha Freight LLC", "mc_number": "0100001",
                      "invoicing": {"method": "email", "auto_merge": True}})
    commits["fields"] = git_commit_all(repo.root, "Alpha Freight: legal name, MC, invoicing")

    git(repo.root, "rm", "-q", repo.relpath_of("sub-2"))
    commits["remove"] = git_commit_all(repo.root, "Remove sub-2: no longer factoring")
    return ScriptedHistory(repo=repo, commits=commits)


def history_json(root: Path, *args: str) -> list[dict[str, Any]]:
    code, output = run_history(root, *args, "--format", "json")
    assert code == 0, output
    entries: list[dict[str, Any]] = json.loads(output)["history"]
    return entries


def descriptions_by_commit(entries: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {
        entry["commit"]: [f'{c["key"]}: {c["description"]}' for c in entry["changes"]]
        for entry in entries
    }


def test_each_scripted_change_is_reported_in_words(scripted: ScriptedHistory) -> None:
    by_commit = descriptions_by_commit(history_json(scripted.repo.root))
    commits = scripted.commits

    assert by_commit[commits["initial"]] == ["sub-1: file added", "sub-2: file added"]
    assert by_commit[commits["noa"]] == ["sub-1: NOA changed (+3/-1 lines)"]
    assert by_commit[commits["rotate"]] == ["sub-1: credentials rotated (password)"]
    assert by_commit[commits["host"]] == [
        "sub-1: FTP host devftp.rtsfinancial.com → ftp.rtsfinancial.com"
    ]
    assert by_commit[commits["rename"]] == ["alpha-freight: renamed from sub-1"]
    assert by_commit[commits["fields"]] == [
        "alpha-freight: name Subsidiary 1 LLC → Alpha Freight LLC",
        "alpha-freight: MC number 100001 → 0100001",
        "alpha-freight: invoicing method factoring → email",
    ]
    assert by_commit[commits["remove"]] == ["sub-2: file removed"]


def test_history_is_newest_first_with_author_date_and_message(
    scripted: ScriptedHistory,
) -> None:
    entries = history_json(scripted.repo.root)

    assert [e["commit"] for e in entries] == list(reversed(scripted.commits.values()))
    latest = entries[0]
    assert latest["author"] == "Test Author"
    assert latest["email"] == "author@example.com"
    assert latest["subject"] == "Remove sub-2: no longer factoring"
    assert datetime.fromisoformat(latest["date"]).tzinfo is not None


def test_one_key_follows_its_renames_back_in_time(scripted: ScriptedHistory) -> None:
    commits = scripted.commits

    entries = history_json(scripted.repo.root, "alpha-freight")

    assert [e["commit"] for e in entries] == [
        commits[step] for step in ("fields", "rename", "host", "rotate", "noa", "initial")]
    assert all(c["key"] in {"sub-1", "alpha-freight"} for e in entries for c in e["changes"])


def test_an_old_name_shows_its_history_up_to_the_rename(scripted: ScriptedHistory) -> None:
    commits = scripted.commits

    entries = history_json(scripted.repo.root, "sub-1")

    assert [e["commit"] for e in entries] == [
        commits[step] for step in ("rename", "host", "rotate", "noa", "initial")]
    assert entries[0]["changes"][0]["description"] == "renamed from sub-1"


def test_a_reused_name_is_a_different_subsidiary(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)
    git(repo.root, "mv", repo.relpath_of("sub-1"), "config/subsidiaries/alpha.yaml")
    git_commit_all(repo.root, "sub-1 is Alpha now")
    repo.write_subsidiary("sub-1", subsidiary(9, name="Newcomer LLC"))
    git_commit_all(repo.root, "A new subsidiary takes the name sub-1")

    alpha = history_json(repo.root, "alpha")
    newcomer = history_json(repo.root, "sub-1")

    assert [e["subject"] for e in alpha] == ["sub-1 is Alpha now", "initial config"]
    assert [e["subject"] for e in newcomer] == ["A new subsidiary takes the name sub-1"]


def test_one_key_shows_its_removal(scripted: ScriptedHistory) -> None:
    entries = history_json(scripted.repo.root, "sub-2")

    assert [e["commit"] for e in entries] == [scripted.commits["remove"],
                                              scripted.commits["initial"]]
    assert entries[0]["changes"][0]["kind"] == "removed"


def test_text_output_names_commit_author_and_change(scripted: ScriptedHistory) -> None:
    code, output = run_history(scripted.repo.root, "alpha-freight")

    assert code == 0
    rotate = scripted.commits["rotate"]
    assert f"{rotate[:12]}  " in output
    assert "Test Author <author@example.com>" in output
    assert "    Rotate sub-1 RTS FTP password\n  sub-1: credentials rotated (password)" in output
    assert "alpha-freight: renamed from sub-1" in output


def test_no_secret_and_no_ciphertext_is_ever_printed(
    scripted: ScriptedHistory, canary_password: str
) -> None:
    outputs = [run_history(scripted.repo.root, *args)[1]
               for args in ([], ["--format", "json"], ["alpha-freight"],
                            ["sub-1", "--format", "json"])]

    for output in outputs:
        assert canary_password not in output
        assert "ENC[" not in output
        assert "rts-sub-1" not in output  # the FTP username is a credential too
        assert "age1" not in output  # nor recipients' keys in text


def test_changed_encryption_recipients_are_counted(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)
    document = yaml.safe_load(repo.path_of("sub-1").read_text())
    extra = dict(document["sops"]["age"][0], recipient="age1" + "q" * 58)
    document["sops"]["age"].append(extra)
    repo.path_of("sub-1").write_text(yaml.safe_dump(document, sort_keys=False))
    git_commit_all(repo.root, "Add a second recipient")

    entries = history_json(repo.root, "sub-1")

    assert [c["description"] for c in entries[0]["changes"]] == [
        "encryption recipients changed (+1/-0)"
    ]


def test_plaintext_credentials_in_git_are_flagged_but_not_shown(
    tmp_path: Path, canary_password: str
) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)
    repo.write_subsidiary("sub-1", dict(subsidiary(1), factoring={
        **subsidiary(1)["factoring"],
        "ftp": {**subsidiary(1)["factoring"]["ftp"], "password": canary_password},
    }), encrypt=False)
    git_commit_all(repo.root, "Oops: committed without sops")

    code, output = run_history(repo.root, "sub-1")

    assert code == 0
    assert "credentials rotated (username, password); WARNING: username, password " \
           "committed unencrypted" in output
    assert canary_password not in output


def test_a_file_that_is_not_yaml_is_reported_not_fatal(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)
    repo.path_of("sub-1").write_text("name: [unclosed\n")
    git_commit_all(repo.root, "Broken edit")

    code, output = run_history(repo.root, "sub-1")

    assert code == 0
    assert "sub-1: file is not valid YAML in this commit" in output


def test_config_dir_comes_from_rtssync_yaml(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)])
    (repo.root / "subs").mkdir()
    git(repo.root, "init", "-q", "-b", "main")
    repo.path_of("sub-1").rename(repo.root / "subs" / "sub-1.yaml")
    settings = yaml.safe_load(repo.settings_file.read_text())
    repo.settings_file.write_text(yaml.safe_dump({**settings, "config_dir": "subs"}))
    git_commit_all(repo.root, "Subsidiaries live in subs/")

    entries = history_json(repo.root)

    assert [c["path"] for c in entries[0]["changes"]] == ["subs/sub-1.yaml"]


def test_config_repository_in_a_subfolder_of_the_git_repository(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path / "monorepo" / "ops", [subsidiary(1)])
    git(tmp_path / "monorepo", "init", "-q", "-b", "main")
    git_commit_all(tmp_path / "monorepo", "Add ops config")

    entries = history_json(repo.root, "sub-1")

    assert entries[0]["changes"][0]["path"] == "config/subsidiaries/sub-1.yaml"
    assert entries[0]["changes"][0]["description"] == "file added"


def test_not_a_git_repository_is_one_clear_error(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)])

    code, output = run_history(repo.root)

    assert code == 1
    assert "is not in a git repository" in output
    assert "Traceback" not in output


def test_an_unknown_key_is_an_error_not_an_empty_history(scripted: ScriptedHistory) -> None:
    code, output = run_history(scripted.repo.root, "no-such-sub")

    assert code == 1
    assert "no history for 'no-such-sub'" in output


def test_a_repository_without_commits_has_an_empty_history(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)])
    git(repo.root, "init", "-q", "-b", "main")

    code, output = run_history(repo.root)

    assert code == 0
    assert output.startswith("no history")


def test_the_installed_command_runs_as_a_process(scripted: ScriptedHistory) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rtssync", "-C", str(scripted.repo.root), "history", "sub-2"],
        capture_output=True, text=True, check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "sub-2: file removed" in result.stdout


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("a\nb\n", "a\nb\n", (0, 0)),
        ("a\nb\n", "a\nB\n", (1, 1)),
        ("a\n", "a\nb\nc\n", (2, 0)),
        ("a\r\nb\r\n", "a\nb\n", (0, 0)),
        ("", "a\n", (1, 0)),
    ],
)
def test_noa_line_counts_are_those_of_a_line_diff(
    before: str, after: str, expected: tuple[int, int]
) -> None:
    assert count_changed_lines(before, after) == expected


def test_only_subsidiary_files_count(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)
    (repo.subsidiaries_dir / "README.md").write_text("notes\n")
    (repo.subsidiaries_dir / ".sub-1.yaml.tmp").write_text("half-written\n")
    (repo.subsidiaries_dir / "nested").mkdir()
    (repo.subsidiaries_dir / "nested" / "x.yaml").write_text("name: x\n")
    (repo.root / "NOTES.yaml").write_text("a: 1\n")
    git_commit_all(repo.root, "Unrelated files")

    entries = history_json(repo.root)

    assert [e["subject"] for e in entries] == ["initial config"]


def test_a_rename_with_an_edit_reports_both(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)
    git(repo.root, "mv", repo.relpath_of("sub-1"), "config/subsidiaries/beta.yaml")
    edit_text(repo.subsidiaries_dir / "beta.yaml", "port: 21", "port: 2121")
    git_commit_all(repo.root, "Rename to beta and use port 2121")

    entries = history_json(repo.root, "beta")

    assert [c["description"] for c in entries[0]["changes"]] == [
        "renamed from sub-1", "FTP port 21 → 2121"]


def test_merged_branches_show_each_commit_once(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)
    git(repo.root, "checkout", "-q", "-b", "feature")
    edit_text(repo.path_of("sub-1"), "port: 21", "port: 990")
    git_commit_all(repo.root, "Port 990")
    git(repo.root, "checkout", "-q", "main")
    git(repo.root, "-c", "user.name=M", "-c", "user.email=m@example.com",
        "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "feature")

    entries = history_json(repo.root, "sub-1")

    assert [e["subject"] for e in entries] == ["Port 990", "initial config"]


def test_a_password_written_after_import_is_added_not_rotated(tmp_path: Path) -> None:
    from tests.conftest import CANARY_PASSWORD

    repo = make_config_repo(tmp_path, [subsidiary(1)], password=None, init_git=True)
    sops_set_password(repo, "sub-1", CANARY_PASSWORD)
    git_commit_all(repo.root, "Password from RTS's e-mail")

    code, output = run_history(repo.root, "sub-1")

    assert code == 0
    assert "sub-1: credentials: password added" in output
    assert CANARY_PASSWORD not in output


def test_values_encrypted_by_a_too_wide_rule_are_never_printed(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)
    (repo.root / ".sops.yaml").write_text(
        (repo.root / ".sops.yaml").read_text().replace("^(username|password)$", "^name$|^host$"))
    repo.write_subsidiary("sub-1", dict(subsidiary(1), name="Renamed LLC"))
    git_commit_all(repo.root, "Encrypt everything, by mistake")

    outputs = [run_history(repo.root, "sub-1")[1],
               run_history(repo.root, "sub-1", "--format", "json")[1]]

    assert "name Subsidiary 1 LLC → (encrypted)" in outputs[0]
    for output in outputs:
        assert "ENC[" not in output


def test_terminal_control_characters_in_commits_and_values_are_neutralised(
    tmp_path: Path,
) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], init_git=True)
    repo.write_subsidiary("sub-1", dict(subsidiary(1), name="Evil\x1b[2J LLC"))
    git_commit_all(repo.root, "Rename \x1b]0;pwned\x07 it")

    code, output = run_history(repo.root, "sub-1")

    assert code == 0
    assert "\x1b" not in output
    assert "\x07" not in output
    assert "name Subsidiary 1 LLC → Evil?[2J LLC" in output
