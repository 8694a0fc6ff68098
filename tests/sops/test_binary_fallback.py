"""Key types rtssync does not open itself (here PGP) are handed to the sops binary."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rtssync.errors import SopsError
from rtssync.sops import decrypt_document, read_metadata
from tests.sops.support import sops_binary

PLAIN = "factoring:\n  ftp:\n    username: pgp-user\n    password: pgp-secret\n"

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs gpg")


@pytest.fixture
def pgp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, bytes]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "t <t@example.com>",
            "future-default",
            "default",
            "never",
        ],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        ["gpg", "--list-keys", "--with-colons"], check=True, capture_output=True, text=True
    ).stdout
    fingerprint = next(
        line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr")
    )
    target = tmp_path / "pgp.yaml"
    target.write_text(PLAIN)
    subprocess.run(
        [sops_binary(), "encrypt", "--pgp", fingerprint, "--in-place", str(target)],
        check=True,
        capture_output=True,
        env=dict(os.environ),
        cwd=tmp_path,  # away from any .sops.yaml up the tree
    )
    return target, target.read_bytes()


def test_pgp_file_decrypts_through_sops(pgp_file: tuple[Path, bytes]) -> None:
    path, data = pgp_file
    assert read_metadata(data).other_key_types == ("pgp",)
    plain = decrypt_document(path, data)
    assert plain == {"factoring": {"ftp": {"username": "pgp-user", "password": "pgp-secret"}}}


def test_pgp_file_without_sops_says_install_sops(
    pgp_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path, data = pgp_file
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(SopsError, match=r"pgp\.yaml: .*install sops"):
        decrypt_document(path, data)
