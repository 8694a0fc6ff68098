"""rtssync.validate as a library: the rules the schema cannot say, and the username rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rtssync.model import SourceLocation
from rtssync.validate import (
    ValidationResult,
    duplicate_username_problems,
    normalize_line_endings,
    validate_repository,
)
from tests.repo_factory import ConfigRepo, make_config_repo, subsidiary

S1 = "config/subsidiaries/sub-1.yaml"
S2 = "config/subsidiaries/sub-2.yaml"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    return make_config_repo(tmp_path_factory.mktemp("template"),
                            [subsidiary(1), subsidiary(2)])


@pytest.fixture
def repo(template: ConfigRepo, tmp_path: Path) -> ConfigRepo:
    return template.copy_to(tmp_path / "repo")


def validate(repo: ConfigRepo) -> ValidationResult:
    return validate_repository(repo.root, repo.settings_file)


def messages(repo: ConfigRepo) -> list[str]:
    return [str(p) for p in validate(repo).all_problems()]


def username_ciphertext(repo: ConfigRepo, key: str) -> str:
    text = repo.path_of(key).read_text()
    return text.split("username: ", 1)[1].split("\n", 1)[0]


def test_a_valid_repository_has_no_problems(repo: ConfigRepo) -> None:
    result = validate(repo)

    assert result.ok
    assert [d.key for d in result.documents] == ["sub-1", "sub-2"]


def test_equal_usernames_encrypt_differently_so_without_keys_nothing_is_reported(
    tmp_path: Path,
) -> None:
    same = subsidiary(2)
    same["factoring"]["ftp"]["username"] = "rts-sub-1"
    repo = make_config_repo(tmp_path, [subsidiary(1), same])

    assert username_ciphertext(repo, "sub-1") != username_ciphertext(repo, "sub-2")
    assert validate(repo).ok  # the documented limit: no key, no comparison


def test_with_keys_the_decrypted_usernames_catch_a_reused_login(tmp_path: Path) -> None:
    same = subsidiary(2)
    same["factoring"]["ftp"]["username"] = "rts-sub-1"
    repo = make_config_repo(tmp_path, [subsidiary(1), same])
    result = validate(repo)
    decrypted = {
        d.key: (repo.sops_decrypt(d.key)["factoring"]["ftp"]["username"],
                d.doc.location_of(("factoring", "ftp", "username")))
        for d in result.documents
    }

    problems = duplicate_username_problems(decrypted)

    assert [str(p) for p in problems] == [
        f"{S2}:22:19: factoring.ftp.username: the same RTS FTP username as {S1}:22:19; RTS "
        "issues one login per subsidiary, so each file needs its own"
    ]
    assert "rts-sub-1" not in str(problems[0])


def test_distinct_usernames_pass_the_username_rule() -> None:
    where = SourceLocation(Path("a.yaml"), 1, 1)
    elsewhere = SourceLocation(Path("b.yaml"), 1, 1)

    assert duplicate_username_problems({"a": ("one", where), "b": ("two", elsewhere)}) == []


def test_a_username_ciphertext_copied_between_files_is_caught_without_keys(
    repo: ConfigRepo,
) -> None:
    text = repo.path_of("sub-2").read_text()
    copied = text.replace(username_ciphertext(repo, "sub-2"), username_ciphertext(repo, "sub-1"))
    repo.path_of("sub-2").write_text(copied)

    assert messages(repo) == [
        f"{S2}:22:19: factoring.ftp.username: the same RTS FTP username as {S1}:22:19; RTS "
        "issues one login per subsidiary, so each file needs its own"
    ]


def test_a_password_not_set_yet_is_incomplete_not_blocking(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], password=None)

    result = validate(repo)

    assert result.problems == ()
    assert [str(p) for p in result.incomplete] == [
        f"{S1}:16:5: factoring.ftp.password: not set: run rtssync secrets set sub-1 "
        "--username USERNAME --password-stdin"
    ]
    assert not result.ok


def test_sftp_needs_a_pinned_host_key(tmp_path: Path) -> None:
    sftp = subsidiary(1)
    sftp["factoring"]["ftp"].update(protocol="sftp", port=22)
    repo = make_config_repo(tmp_path, [sftp])

    assert messages(repo) == [
        f"{S1}:21:19: factoring.ftp.host_key: must be text (in quotes), not empty (null) "
        "(sftp needs the server's pinned public key, e.g. \"ssh-ed25519 AAAA...\")"
    ]


def test_file_names_are_keys(repo: ConfigRepo) -> None:
    shutil.copy(repo.path_of("sub-2"), repo.subsidiaries_dir / "Sub Two.yaml")
    shutil.copy(repo.path_of("sub-1"), repo.subsidiaries_dir / "sub-1.yml")

    shown = messages(repo)

    assert ("config/subsidiaries/Sub Two.yaml: 'Sub Two' is not a usable key (the file name is "
            "the subsidiary's key): rename the file to lowercase letters, digits and hyphens, "
            "e.g. alpha-freight.yaml") in shown
    assert ("config/subsidiaries/sub-1.yml: key 'sub-1' is also the key of "
            f"{S1}; rename or remove one file") in shown


def test_an_empty_file_and_a_list_are_not_subsidiaries(repo: ConfigRepo) -> None:
    (repo.subsidiaries_dir / "empty.yaml").write_text("")
    (repo.subsidiaries_dir / "list.yaml").write_text("- name: x\n")

    assert messages(repo) == [
        "config/subsidiaries/empty.yaml:1:1: file is empty; describe the subsidiary (see "
        "schemas/subsidiary.schema.json)",
        "config/subsidiaries/list.yaml:1:1: the file: must be a mapping of fields, not a list",
    ]


def test_without_sops_yaml_the_rule_cannot_be_checked_and_that_is_said(
    repo: ConfigRepo,
) -> None:
    (repo.root / ".sops.yaml").unlink()

    assert messages(repo) == [
        ".sops.yaml: not found: sops needs it to know the recipients and which values to "
        "encrypt (rtssync init writes one)"
    ]


def test_a_file_no_creation_rule_matches_is_named(repo: ConfigRepo) -> None:
    sops_config = repo.root / ".sops.yaml"
    sops_config.write_text(sops_config.read_text().replace("^config/subsidiaries/",
                                                           "^elsewhere/"))

    assert messages(repo) == [
        f".sops.yaml: no creation rule matches '{path}'; add a rule whose path_regex matches "
        "it (or a rule without path_regex)" for path in (S1, S2)
    ]


def test_a_missing_subsidiaries_folder_is_a_problem(repo: ConfigRepo) -> None:
    shutil.rmtree(repo.subsidiaries_dir)

    assert messages(repo) == [
        "config/subsidiaries: folder not found: create it and add one YAML file per subsidiary "
        "(or set config_dir in rtssync.yaml)"
    ]


def test_no_sops_block_with_encrypted_values_cannot_be_decrypted(repo: ConfigRepo) -> None:
    text = repo.path_of("sub-1").read_text()
    repo.path_of("sub-1").write_text(text.split("sops:\n", 1)[0])

    assert messages(repo) == [
        f"{S1}:1:1: no sops metadata: the credentials cannot be decrypted; set them again with "
        "rtssync secrets set sub-1"
    ]


def test_broken_settings_and_broken_files_are_reported_together(repo: ConfigRepo) -> None:
    repo.settings_file.write_text(repo.settings_file.read_text().replace("prune: false",
                                                                         "prune: maybe"))
    text = repo.path_of("sub-1").read_text()
    repo.path_of("sub-1").write_text(text.replace("port: 21", "port: 0"))

    assert messages(repo) == [
        f"{S1}:19:15: factoring.ftp.port: 0 is below the minimum 1 (TCP port from 1 to 65535: "
        "21 for ftp, 22 for sftp)",
        "rtssync.yaml:11:8: prune: must be true or false, not text (true lets a removed "
        "subsidiary file remove its RTS FTP setup from the TMS; default false)",
    ]


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("a\r\nb\r\n", "a\nb\n"), ("a\rb", "a\nb"), ("a\nb", "a\nb"), ("a\r\r\nb", "a\n\nb")],
)
def test_line_endings_normalize_to_lf(raw: str, normalized: str) -> None:
    assert normalize_line_endings(raw) == normalized


def test_broken_settings_elsewhere_do_not_add_a_missing_folder_red_herring(
    repo: ConfigRepo,
) -> None:
    (repo.subsidiaries_dir).rename(repo.root / "subs")
    repo.settings_file.write_text("config_dir: subs\nprune: maybe\n")

    assert messages(repo) == [
        "rtssync.yaml:2:8: prune: must be true or false, not text (true lets a removed "
        "subsidiary file remove its RTS FTP setup from the TMS; default false)",
    ]
