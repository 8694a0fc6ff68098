"""``rtssync validate`` as a user runs it: one line per problem, exit 1, nothing touched on disk.

Each case starts from a valid repository written by the real ``sops`` binary, breaks one thing
the way a person would (in an editor), and expects exactly the message that points at it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rtssync.cli import cli
from tests.repo_factory import ConfigRepo, make_config_repo

S1 = "config/subsidiaries/sub-1.yaml"
S2 = "config/subsidiaries/sub-2.yaml"
S3 = "config/subsidiaries/sub-3.yaml"

Breakage = Callable[[ConfigRepo], object]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    return make_config_repo(tmp_path_factory.mktemp("template"))


@pytest.fixture
def repo(template: ConfigRepo, tmp_path: Path) -> ConfigRepo:
    return template.copy_to(tmp_path / "repo")


def edit(repo: ConfigRepo, key: str, old: str, new: str) -> None:
    """Replace one exact piece of a subsidiary file, as a person would in an editor."""
    path = repo.path_of(key)
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def stored_value(repo: ConfigRepo, key: str, field: str) -> str:
    """The text after ``field: `` in a file (e.g. a credential's ENC[...] string)."""
    text = repo.path_of(key).read_text(encoding="utf-8")
    return text.split(f"{field}: ", 1)[1].split("\n", 1)[0]


def tree_digest(root: Path) -> str:
    """Every file's path and bytes: proves a command changed nothing on disk."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def run_validate(root: Path) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), "validate"])


def test_the_valid_repository_passes_with_a_summary(repo: ConfigRepo) -> None:
    result = run_validate(repo.root)

    assert result.exit_code == 0, result.output
    assert result.stdout == "3 subsidiaries valid\n"
    assert result.stderr == ""


def _replace_password(plaintext: str) -> Breakage:
    def breakage(repo: ConfigRepo) -> None:
        edit(repo, "sub-2", stored_value(repo, "sub-2", "password"), plaintext)

    return breakage


def _settings(old: str, new: str) -> Breakage:
    def breakage(repo: ConfigRepo) -> None:
        text = repo.settings_file.read_text()
        assert text.count(old) == 1
        repo.settings_file.write_text(text.replace(old, new))

    return breakage


def _sops_config(old: str, new: str) -> Breakage:
    def breakage(repo: ConfigRepo) -> None:
        path = repo.root / ".sops.yaml"
        path.write_text(path.read_text().replace(old, new))

    return breakage


def _both_tms_ids(repo: ConfigRepo) -> None:
    edit(repo, "sub-1", "tms_id: null", "tms_id: SUB-9")
    edit(repo, "sub-2", "tms_id: null", "tms_id: SUB-9")


CASES: list[tuple[str, Breakage, list[str]]] = [
    (
        "duplicate-key",
        lambda r: edit(r, "sub-1", "tms_id: null\n", "tms_id: null\nname: Again LLC\n"),
        [f"{S1}:4:1: duplicate key 'name' (first at line 2); keep only one"],
    ),
    (
        "octal-mc-number",
        lambda r: edit(r, "sub-1", 'mc_number: "100001"', "mc_number: 012345"),
        [f'{S1}:4:12: mc_number: 012345 is read as the octal number 5349 and loses its '
         'leading zero; quote it: "012345"'],
    ),
    (
        "yes-as-bool",
        lambda r: edit(r, "sub-1", "auto_merge: true", "auto_merge: yes"),
        [f"{S1}:13:17: invoicing.auto_merge: yes is read as the boolean true (YAML 1.1); "
         'write true, or quote it if you mean the text: "yes"'],
    ),
    (
        "alias",
        lambda r: edit(r, "sub-1", 'name: Subsidiary 1 LLC\ntms_id: null',
                       'name: &n Subsidiary 1 LLC\ntms_id: *n'),
        [f"{S1}:3:9: alias *n is not allowed; write the value out in full"],
    ),
    (
        "unknown-field",
        lambda r: edit(r, "sub-1", "        port: 21\n", "        port: 21\n        hostname: x\n"),
        [f"{S1}:20:9: unknown field 'hostname' in factoring.ftp: did you mean 'host'? "
         "(allowed: directory, host, host_key, password, port, protocol, username)"],
    ),
    (
        "wrong-type",
        lambda r: edit(r, "sub-1", "port: 21", "port: twenty-one"),
        [f"{S1}:19:15: factoring.ftp.port: must be a whole number, not text "
         "(TCP port from 1 to 65535: 21 for ftp, 22 for sftp)"],
    ),
    (
        "unquoted-mc-number",
        lambda r: edit(r, "sub-1", 'mc_number: "100001"', "mc_number: 100001"),
        [f'{S1}:4:12: mc_number: must be text (in quotes), not a number (MC number: digits '
         'only, in quotes so leading zeros survive, e.g. "100001")'],
    ),
    (
        "missing-field",
        lambda r: edit(r, "sub-1", "        directory: /incoming\n", ""),
        [f"{S1}:16:5: missing field 'directory' in factoring.ftp (the folder invoice batches "
         "go to, an absolute path such as /incoming); add it"],
    ),
    (
        "noa-too-long",
        lambda r: edit(r, "sub-1", "    against this invoice.\n", "    " + "x" * 10_001 + "\n"),
        [f"{S1}:6:23: notice_of_assignment: is 10,232 characters long; at most 10,000 are "
         "allowed"],
    ),
    (
        "noa-empty",
        lambda r: edit(r, "sub-1", "notice_of_assignment: |\n", 'notice_of_assignment: " "\n'
                                                                 "old_noa: |\n"),
        [f"{S1}:6:23: notice_of_assignment: must not be empty (the Notice of Assignment text "
         "supplied by RTS that every invoice carries, 1 to 10,000 characters)",
         f"{S1}:7:1: unknown field 'old_noa': remove it (allowed: dot_number, factoring, "
         "invoicing, mc_number, name, notice_of_assignment, sops, tms_id)"],
    ),
    (
        "factoring-without-auto-merge",
        lambda r: edit(r, "sub-1", "auto_merge: true", "auto_merge: false"),
        [f"{S1}:13:17: invoicing.auto_merge: must be true when invoicing.method is factoring "
         "(Alvys requires AutoMerge for the Factoring Company method)"],
    ),
    (
        "duplicate-name",
        lambda r: edit(r, "sub-2", "name: Subsidiary 2 LLC", "name: subsidiary 1  LLC"),
        [f"{S2}:2:7: name: 'subsidiary 1  LLC' is also the name of {S1}:2:7; each "
         "subsidiary needs its own"],
    ),
    (
        "duplicate-mc",
        lambda r: edit(r, "sub-3", 'mc_number: "100003"', 'mc_number: "100001"'),
        [f"{S3}:4:12: mc_number: '100001' is also the MC number of {S1}:4:12; each "
         "subsidiary needs its own"],
    ),
    (
        "duplicate-dot",
        lambda r: edit(r, "sub-3", 'dot_number: "2000003"', 'dot_number: "2000001"'),
        [f"{S3}:5:13: dot_number: '2000001' is also the DOT number of {S1}:5:13; each "
         "subsidiary needs its own"],
    ),
    (
        "duplicate-tms-id",
        _both_tms_ids,
        [f"{S2}:3:9: tms_id: 'SUB-9' is also the tms_id of {S1}:3:9; each subsidiary needs "
         "its own"],
    ),
    (
        "plaintext-password",
        _replace_password("hunter2-plain"),
        [f"{S2}:23:19: factoring.ftp.password: is not encrypted; encrypt it with rtssync "
         "secrets set sub-2 --username USERNAME --password-stdin"],
    ),
    (
        "file-encrypted-with-wrong-regex",
        lambda r: edit(r, "sub-1", "encrypted_regex: ^(username|password)$",
                       "encrypted_regex: ^(password)$"),
        [f"{S1}:37:22: sops.encrypted_regex: must be ^(username|password)$ so that only the "
         "credentials are encrypted and the NOA stays readable in a pull request; set the "
         "credentials again with rtssync secrets set sub-1, which re-encrypts them under the "
         ".sops.yaml rule"],
    ),
    (
        "file-without-mac-only-encrypted",
        lambda r: edit(r, "sub-1", "mac_only_encrypted: true", "mac_only_encrypted: false"),
        [f"{S1}:38:25: sops.mac_only_encrypted: must be true so that the NOA can be edited "
         "without breaking the file's MAC; set the credentials again with rtssync secrets set "
         "sub-1, which re-encrypts them under the .sops.yaml rule"],
    ),
    (
        "sops-rule-without-mac-only-encrypted",
        _sops_config("mac_only_encrypted: true", "mac_only_encrypted: false"),
        [".sops.yaml:2:1: the creation rule for subsidiary files needs mac_only_encrypted: "
         "true"],
    ),
    (
        "sops-rule-with-wrong-regex",
        _sops_config("'^(username|password)$'", "'^password$'"),
        [".sops.yaml:2:1: the creation rule for subsidiary files needs encrypted_regex: "
         "'^(username|password)$'"],
    ),
    (
        "bad-settings",
        _settings("kind: local", "kind: sqlite"),
        ["rtssync.yaml:3:9: tms.kind: 'sqlite' is not allowed; use one of: local, http, alvys"],
    ),
    (
        "settings-limit-out-of-range",
        _settings("max_deletes: 1", "max_deletes: -1"),
        ["rtssync.yaml:6:16: safety.max_deletes: -1 is below the minimum 0 (the most removals "
         "one apply may make: a whole number, 0 or more)"],
    ),
    (
        "settings-unknown-field",
        _settings("prune: false", "prune: false\npruning: true"),
        ["rtssync.yaml:12:1: unknown field 'pruning': did you mean 'prune'? (allowed: "
         "config_dir, policy, prune, safety, tms)"],
    ),
    (
        "settings-malformed",
        _settings("tms:", "tms: ["),
        ["rtssync.yaml:4:7: invalid YAML: did not find expected ',' or ']' (while parsing a "
         "flow sequence); check the indentation and quoting here"],
    ),
    (
        "malformed-yaml",
        lambda r: edit(r, "sub-2", "name: Subsidiary 2 LLC", "name: [Subsidiary 2 LLC"),
        [f"{S2}:3:7: invalid YAML: did not find expected ',' or ']' (while parsing a flow "
         "sequence); check the indentation and quoting here"],
    ),
    (
        "tab-indentation",
        lambda r: edit(r, "sub-2", "    method: factoring", "\tmethod: factoring"),
        [f"{S2}:12:1: tab character: YAML indentation must use spaces, not tabs"],
    ),
    (
        "binary-garbage",
        lambda r: r.path_of("sub-3").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        [f"{S3}:1:1: not UTF-8 text (byte 0x89); save the file as UTF-8"],
    ),
    (
        "latin-1-file",
        lambda r: r.path_of("sub-3").write_bytes("name: Café Freight\n".encode("latin-1")),
        [f"{S3}:1:10: not UTF-8 text (byte 0xe9); save the file as UTF-8"],
    ),
]


@pytest.mark.parametrize(("breakage", "expected"), [pytest.param(b, e, id=n) for n, b, e in CASES])
def test_each_mistake_is_one_exact_message_exit_1_and_nothing_changes(
    repo: ConfigRepo, breakage: Breakage, expected: list[str]
) -> None:
    breakage(repo)
    before = tree_digest(repo.root)

    result = run_validate(repo.root)

    assert result.exit_code == 1
    noun = "problem" if len(expected) == 1 else "problems"
    assert result.stderr.splitlines() == [*expected, f"{len(expected)} {noun} found"]
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert tree_digest(repo.root) == before
    assert not (repo.root / ".rtssync").exists()


def test_all_problems_of_all_files_come_in_one_run(repo: ConfigRepo) -> None:
    edit(repo, "sub-1", "auto_merge: true", "auto_merge: false")
    edit(repo, "sub-2", "port: 21", "port: 70000")
    edit(repo, "sub-3", 'mc_number: "100003"', 'mc_number: "100001"')

    result = run_validate(repo.root)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{S1}:13:17: invoicing.auto_merge: must be true when invoicing.method is factoring "
        "(Alvys requires AutoMerge for the Factoring Company method)",
        f"{S2}:19:15: factoring.ftp.port: 70000 is above the maximum 65535 (TCP port from 1 "
        "to 65535: 21 for ftp, 22 for sftp)",
        f"{S3}:4:12: mc_number: '100001' is also the MC number of {S1}:4:12; each subsidiary "
        "needs its own",
        "3 problems found",
    ]


def test_a_missing_password_after_import_fails_validate_with_what_to_do(
    tmp_path: Path,
) -> None:
    repo = make_config_repo(tmp_path, password=None)

    result = run_validate(repo.root)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{S1}:16:5: factoring.ftp.password: not set: run rtssync secrets set sub-1 "
        "--username USERNAME --password-stdin"
    )


def test_the_plaintext_password_never_appears_in_the_output(
    repo: ConfigRepo, canary_password: str
) -> None:
    edit(repo, "sub-2", stored_value(repo, "sub-2", "password"), json.dumps(canary_password))

    result = run_validate(repo.root)

    assert result.exit_code == 1
    assert "factoring.ftp.password: is not encrypted" in result.stderr
    assert canary_password not in result.output


def test_validate_needs_no_keys(repo: ConfigRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(repo.root / "no-config-here"))

    assert run_validate(repo.root).exit_code == 0


def test_no_rtssync_yaml_says_how_to_get_one(tmp_path: Path) -> None:
    result = run_validate(tmp_path)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "rtssync.yaml: not found: run `rtssync init` to create one, or point at it with "
        "-C DIR or --config FILE",
        "1 problem found",
    ]


def test_a_real_process_reports_the_same_way(repo: ConfigRepo) -> None:
    edit(repo, "sub-1", 'mc_number: "100001"', "mc_number: 012345")
    rtssync = Path(sys.executable).parent / "rtssync"

    broken = subprocess.run([str(rtssync), "-C", str(repo.root), "validate"],
                            capture_output=True, text=True, check=False)
    edit(repo, "sub-1", "mc_number: 012345", 'mc_number: "012345"')
    fixed = subprocess.run([str(rtssync), "-C", str(repo.root), "validate"],
                           capture_output=True, text=True, check=False)

    assert broken.returncode == 1
    assert broken.stderr.splitlines() == [
        f'{S1}:4:12: mc_number: 012345 is read as the octal number 5349 and loses its leading '
        'zero; quote it: "012345"',
        "1 problem found",
    ]
    assert (fixed.returncode, fixed.stdout, fixed.stderr) == (0, "3 subsidiaries valid\n", "")


def test_the_shipped_example_repository_is_valid() -> None:
    project_root = Path(__file__).resolve().parents[2]

    result = run_validate(project_root)

    assert result.exit_code == 0, result.output
    assert result.stdout == "3 subsidiaries valid\n"


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(lambda canary: json.dumps(canary), id="plaintext"),
        pytest.param(lambda canary: '"' + canary.replace('"', ""), id="unterminated-quote"),
        pytest.param(lambda canary: "[" + json.dumps(canary), id="unclosed-flow"),
        pytest.param(lambda canary: "012345", id="octal-password"),
    ],
)
def test_no_mistake_around_a_credential_shows_it(
    repo: ConfigRepo, canary_password: str, written: Callable[[str], str]
) -> None:
    for field in ("username", "password"):
        edit(repo, "sub-2", stored_value(repo, "sub-2", field), written(canary_password))

    result = run_validate(repo.root)

    assert result.exit_code == 1
    assert canary_password not in result.output
    assert canary_password.replace('"', "") not in result.output
    assert "012345" not in result.output
    assert "5349" not in result.output
