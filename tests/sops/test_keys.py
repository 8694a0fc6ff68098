"""age identities are found where sops finds them, and a missing key says where we looked."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from rtssync.errors import SopsError
from rtssync.sops import decrypt_document, find_identities
from tests.sops.support import AgeKey, new_age_key, sops_encrypt, write_sops_config

PLAIN = "factoring:\n  ftp:\n    username: u\n    password: the-password\n"


@pytest.fixture
def secret_file(tmp_path: Path) -> tuple[Path, bytes, AgeKey]:
    key = new_age_key(tmp_path / "keys", "right")
    write_sops_config(tmp_path / "repo", f"    age: {key.recipient}\n")
    data = sops_encrypt(tmp_path / "repo", "s.yaml", PLAIN, key)
    return tmp_path / "repo/s.yaml", data, key


def password_of(path: Path, data: bytes) -> str:
    value = decrypt_document(path, data)["factoring"]["ftp"]["password"]
    assert isinstance(value, str)
    return value


def test_sops_age_key_may_hold_several_identities(
    secret_file: tuple[Path, bytes, AgeKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, key = secret_file
    other = new_age_key(tmp_path / "keys", "other")
    monkeypatch.setenv("SOPS_AGE_KEY", f"# comment\n{other.secret}\n\n{key.secret}\n")
    assert password_of(path, data) == "the-password"


def test_sops_age_key_file(
    secret_file: tuple[Path, bytes, AgeKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, key = secret_file
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.file))
    assert password_of(path, data) == "the-password"


def test_sops_age_key_cmd_runs_without_a_shell(
    secret_file: tuple[Path, bytes, AgeKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, key = secret_file
    script = "import sys; sys.stdout.write(open(sys.argv[1]).read())"
    command = shlex.join([sys.executable, "-c", script, str(key.file)])
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", command)
    assert password_of(path, data) == "the-password"


def test_failing_key_command_is_a_clear_error(
    secret_file: tuple[Path, bytes, AgeKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, _ = secret_file
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", "false")
    with pytest.raises(SopsError, match="SOPS_AGE_KEY_CMD: 'false' exited with status 1"):
        decrypt_document(path, data)


def test_xdg_config_home_keys_txt(
    secret_file: tuple[Path, bytes, AgeKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, key = secret_file
    config_home = tmp_path / "xdg"
    (config_home / "sops/age").mkdir(parents=True)
    (config_home / "sops/age/keys.txt").write_text(key.file.read_text())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    assert password_of(path, data) == "the-password"


def test_home_config_keys_txt_when_xdg_is_unset(
    secret_file: tuple[Path, bytes, AgeKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, key = secret_file
    home = tmp_path / "home"
    (home / ".config/sops/age").mkdir(parents=True)
    (home / ".config/sops/age/keys.txt").write_text(key.file.read_text())
    monkeypatch.setenv("HOME", str(home))
    assert password_of(path, data) == "the-password"


def test_wrong_key_lists_recipients_and_every_place_looked(
    secret_file: tuple[Path, bytes, AgeKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, key = secret_file
    wrong = new_age_key(tmp_path / "keys", "wrong")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(wrong.file))
    with pytest.raises(SopsError) as caught:
        decrypt_document(path, data)
    message = str(caught.value)
    assert message.startswith(f"{path}: no age identity can decrypt it")
    assert key.recipient in message
    assert f"SOPS_AGE_KEY_FILE={wrong.file} (1 identity)" in message
    assert "SOPS_AGE_KEY (not set)" in message
    assert "SOPS_AGE_KEY_CMD (not set)" in message
    assert f"{tmp_path / 'home/.config/sops/age/keys.txt'} (missing)" in message
    assert wrong.secret not in message
    assert key.secret not in message


def test_no_key_at_all_is_the_same_clear_error(
    secret_file: tuple[Path, bytes, AgeKey],
) -> None:
    path, data, key = secret_file
    with pytest.raises(SopsError, match=f"Recipients: {key.recipient}"):
        decrypt_document(path, data)


def test_a_malformed_identity_names_the_line_not_the_key(
    secret_file: tuple[Path, bytes, AgeKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, _ = secret_file
    monkeypatch.setenv("SOPS_AGE_KEY", "AGE-SECRET-KEY-1NOTAKEY")
    with pytest.raises(SopsError, match="SOPS_AGE_KEY: line 1 is not a valid age identity") as e:
        decrypt_document(path, data)
    assert "NOTAKEY" not in str(e.value)


def test_discovery_is_cached_per_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = new_age_key(tmp_path / "keys")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.file))
    first = find_identities()
    key.file.unlink()  # a second discovery would fail to read it
    assert find_identities() is first


def test_a_stanza_opens_even_when_its_recipient_label_is_wrong_like_sops(
    secret_file: tuple[Path, bytes, AgeKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, key = secret_file
    other = new_age_key(tmp_path / "keys", "label")
    relabelled = data.replace(key.recipient.encode(), other.recipient.encode())
    monkeypatch.setenv("SOPS_AGE_KEY", key.secret)
    assert password_of(path, relabelled) == "the-password"
