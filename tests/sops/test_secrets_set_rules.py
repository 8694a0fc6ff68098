"""``secrets set`` never writes a credential the sops rule would leave unencrypted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import CANARY_PASSWORD
from tests.repo_factory import make_config_repo, sops_config_text, subsidiary


def test_a_rule_that_misses_the_credentials_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)])
    (repo.root / ".sops.yaml").write_text(
        sops_config_text(repo.age_public_key, encrypted_regex="^(user|pass)$")
    )
    before = repo.path_of("sub-1").read_bytes()

    result = subprocess.run(
        [sys.executable, "-m", "rtssync", "-C", str(repo.root), "secrets", "set", "sub-1",
         "--username", "canary-user-7q", "--password-stdin"],
        input=CANARY_PASSWORD + "\n", capture_output=True, text=True, env=repo.sops_env(),
        check=False,
    )

    assert result.returncode == 1
    assert "would leave factoring.ftp.username, factoring.ftp.password unencrypted" in (
        result.stderr)
    assert "encrypted_regex" in result.stderr
    assert repo.path_of("sub-1").read_bytes() == before
    produced = result.stdout + result.stderr + repo.path_of("sub-1").read_text()
    assert CANARY_PASSWORD not in produced
    assert "canary-user-7q" not in produced
