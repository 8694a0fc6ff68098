"""``rtssync.scaffold``: what ``rtssync init`` writes, where the new key goes, what it refuses."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pyrage
import pytest
import yaml

from rtssync import __version__
from rtssync.errors import RtssyncError
from rtssync.scaffold import (
    EXAMPLE_KEY,
    EXAMPLE_USERNAME,
    RECIPIENT_PLACEHOLDER,
    VERSION_PLACEHOLDER,
    WORKFLOW_NAMES,
    InitResult,
    init_repository,
    planned_paths,
)
from tests.repo_factory import sops_binary

SCHEMAS = Path(__file__).resolve().parents[1] / "rtssync" / "schemas"
EXAMPLE = f"config/subsidiaries/{EXAMPLE_KEY}.yaml"


def user_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose sops keys file lives under tmp_path, never the real home."""
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}


def keys_file(tmp_path: Path) -> Path:
    return tmp_path / "xdg" / "sops" / "age" / "keys.txt"


def init(tmp_path: Path, **kwargs: str) -> InitResult:
    return init_repository(tmp_path / "repo", environ=user_env(tmp_path), **kwargs)


def every_file(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def sops_decrypt(root: Path, relative: str, key_file: Path) -> dict[str, object]:
    result = subprocess.run(
        [sops_binary(), "decrypt", relative], cwd=root, capture_output=True, text=True,
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(key_file)}, check=True,
    )
    loaded: dict[str, object] = yaml.safe_load(result.stdout)
    return loaded


def test_init_writes_every_planned_file_and_nothing_else(tmp_path: Path) -> None:
    result = init(tmp_path)

    written = sorted(str(p.relative_to(result.root)) for p in every_file(result.root))
    assert written == sorted(planned_paths())
    assert sorted(result.written) == written
    for expected in ("rtssync.yaml", ".sops.yaml", ".gitignore", ".pre-commit-config.yaml",
                     "README.md", EXAMPLE, *(f".github/workflows/{n}" for n in WORKFLOW_NAMES)):
        assert expected in written


def test_the_new_key_is_appended_where_sops_looks_with_private_modes(tmp_path: Path) -> None:
    result = init(tmp_path)

    key_file = keys_file(tmp_path)
    assert result.recipient.key_file == key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    identity_line = next(line for line in key_file.read_text().splitlines()
                         if line.startswith("AGE-SECRET-KEY-"))
    identity = pyrage.x25519.Identity.from_str(identity_line)
    assert str(identity.to_public()) == result.recipient.public_key


def test_the_private_key_never_enters_the_repository(tmp_path: Path) -> None:
    result = init(tmp_path)

    secret = next(line for line in keys_file(tmp_path).read_text().splitlines()
                  if line.startswith("AGE-SECRET-KEY-"))
    for path in every_file(result.root):
        text = path.read_text(encoding="utf-8")
        assert secret not in text, path
        assert secret.lower() not in text.lower(), path


def test_an_existing_keys_file_keeps_its_keys(tmp_path: Path) -> None:
    key_file = keys_file(tmp_path)
    key_file.parent.mkdir(parents=True)
    earlier = pyrage.x25519.Identity.generate()
    key_file.write_text(f"# an earlier key\n{earlier}\n")

    result = init(tmp_path)

    text = key_file.read_text()
    assert text.startswith(f"# an earlier key\n{earlier}\n")
    assert f"# public key: {result.recipient.public_key}\n" in text
    assert text.count("AGE-SECRET-KEY-") == 2


def test_sops_yaml_has_the_required_rule_and_the_new_recipient(tmp_path: Path) -> None:
    result = init(tmp_path)

    rules = yaml.safe_load((result.root / ".sops.yaml").read_text())["creation_rules"]
    assert rules == [{
        "path_regex": r"^config/subsidiaries/.*\.yaml$",
        "encrypted_regex": "^(username|password)$",
        "mac_only_encrypted": True,
        "age": result.recipient.public_key,
    }]


def test_the_example_is_encrypted_and_the_sops_binary_decrypts_it(tmp_path: Path) -> None:
    result = init(tmp_path)

    raw = yaml.safe_load((result.root / EXAMPLE).read_text())
    assert raw["factoring"]["ftp"]["username"].startswith("ENC[AES256_GCM,")
    assert raw["factoring"]["ftp"]["password"].startswith("ENC[AES256_GCM,")
    assert raw["notice_of_assignment"].startswith("NOTICE OF ASSIGNMENT")
    plain = sops_decrypt(result.root, EXAMPLE, keys_file(tmp_path))
    ftp = plain["factoring"]["ftp"]  # type: ignore[index]
    assert ftp["username"] == EXAMPLE_USERNAME
    assert len(ftp["password"]) >= 24


def test_each_init_gets_a_different_random_example_password(tmp_path: Path) -> None:
    first = init_repository(tmp_path / "a", environ=user_env(tmp_path))
    second = init_repository(tmp_path / "b", environ=user_env(tmp_path))

    passwords = [
        sops_decrypt(r.root, EXAMPLE, keys_file(tmp_path))["factoring"]["ftp"]["password"]  # type: ignore[index]
        for r in (first, second)
    ]
    assert passwords[0] != passwords[1]


def test_an_existing_recipient_is_used_and_no_key_is_generated(tmp_path: Path) -> None:
    team = pyrage.x25519.Identity.generate()
    team_file = tmp_path / "team.txt"
    team_file.write_text(f"{team}\n")

    result = init(tmp_path, recipient=str(team.to_public()))

    assert result.recipient.key_file is None
    assert not keys_file(tmp_path).exists()
    assert str(team.to_public()) in (result.root / ".sops.yaml").read_text()
    assert sops_decrypt(result.root, EXAMPLE, team_file)["name"] == "Example Freight LLC"


def test_a_malformed_recipient_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RtssyncError, match="must be an age public key"):
        init(tmp_path, recipient="age1-not-a-key")
    assert not (tmp_path / "repo").exists()


def test_init_refuses_to_overwrite_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / "README.md").write_text("mine\n")
    (root / ".github" / "workflows" / "rtssync-plan.yml").write_text("mine\n")

    with pytest.raises(RtssyncError) as raised:
        init(tmp_path)

    message = str(raised.value)
    assert "refusing to overwrite" in message
    assert "README.md" in message
    assert ".github/workflows/rtssync-plan.yml" in message
    assert sorted(str(p.relative_to(root)) for p in every_file(root)) == [
        ".github/workflows/rtssync-plan.yml", "README.md"]
    assert (root / "README.md").read_text() == "mine\n"
    assert not keys_file(tmp_path).exists()


def test_unrelated_files_in_the_directory_are_fine(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "NOTES.txt").write_text("keep me\n")

    init(tmp_path)

    assert (root / "NOTES.txt").read_text() == "keep me\n"


def test_no_placeholder_survives_and_the_version_is_pinned(tmp_path: Path) -> None:
    result = init(tmp_path)

    for path in every_file(result.root):
        text = path.read_text(encoding="utf-8")
        assert VERSION_PLACEHOLDER not in text, path
        assert RECIPIENT_PLACEHOLDER not in text, path
    plan = (result.root / ".github/workflows/rtssync-plan.yml").read_text()
    assert f'python -m pip install "rtssync=={__version__}"' in plan
    pre_commit = yaml.safe_load((result.root / ".pre-commit-config.yaml").read_text())
    hook = pre_commit["repos"][0]["hooks"][0]
    assert hook["additional_dependencies"] == [f"rtssync=={__version__}"]


def test_schemas_are_copied_for_editors(tmp_path: Path) -> None:
    result = init(tmp_path)

    for schema in SCHEMAS.glob("*.json"):
        assert (result.root / "schemas" / schema.name).read_bytes() == schema.read_bytes()


def test_readme_names_the_public_key_and_the_ci_secrets(tmp_path: Path) -> None:
    result = init(tmp_path)

    readme = (result.root / "README.md").read_text()
    assert result.recipient.public_key in readme
    for needed in ("SOPS_AGE_KEY", "RTSSYNC_TMS_CLIENT_ID", "RTSSYNC_TMS_CLIENT_SECRET",
                   "rtssync secrets set", "--password-stdin", "notice_of_assignment"):
        assert needed in readme
