"""Build small, real config repositories in ``tmp_path`` for tests.

Every repository is what a user would have: an ``rtssync.yaml``, a ``.sops.yaml`` with a fresh
age recipient, and subsidiary files whose credentials are encrypted by the real ``sops`` binary
(so tests exercise the exact format rtssync must read). Tests that need keys set
``SOPS_AGE_KEY_FILE`` from :attr:`ConfigRepo.age_key_file` (or pass :meth:`ConfigRepo.sops_env`).

The API is shared by every engineer's tests; keep it stable:

    repo = make_config_repo(tmp_path, [subsidiary(1), subsidiary(2, name="Other Co")])
    repo.root, repo.age_key_file, repo.path_of("sub-1"), repo.keys
"""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyrage
import yaml

SCHEMA_COMMENT = "# yaml-language-server: $schema=../../schemas/subsidiary.schema.json\n"
DEFAULT_PASSWORD = "factory-Pa55word!"
ENCRYPTED_REGEX = "^(username|password)$"
SUBSIDIARIES_DIR = "config/subsidiaries"

NOA_TEXT = (
    "NOTICE OF ASSIGNMENT: This account has been assigned and must be paid only to\n"
    "RTS Financial Service, Inc., P.O. Box 840267, Dallas, TX 75284-0267.\n"
    "RTS Financial must be promptly notified at (877) 460-9606 of any claims or offsets\n"
    "against this invoice.\n"
)

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class AgeKey:
    """An age identity written in the ``age-keygen`` file format."""

    public_key: str
    secret_key: str
    path: Path


@dataclass(frozen=True, slots=True)
class ConfigRepo:
    """A config repository on disk, and what a test needs to drive it."""

    root: Path
    age_key_file: Path
    age_public_key: str
    settings_file: Path
    keys: tuple[str, ...]
    """Subsidiary keys (file stems) in the order they were given."""

    @property
    def subsidiaries_dir(self) -> Path:
        return self.root / SUBSIDIARIES_DIR

    def path_of(self, key: str) -> Path:
        """The subsidiary file for ``key`` (absolute)."""
        return self.subsidiaries_dir / f"{key}.yaml"

    def relpath_of(self, key: str) -> str:
        """The subsidiary file for ``key`` as rtssync reports it: relative to the root."""
        return f"{SUBSIDIARIES_DIR}/{key}.yaml"

    def sops_env(self) -> dict[str, str]:
        """The process environment plus ``SOPS_AGE_KEY_FILE`` pointing at this repo's key."""
        env = dict(os.environ)
        env["SOPS_AGE_KEY_FILE"] = str(self.age_key_file)
        return env

    def write_subsidiary(self, key: str, data: Mapping[str, Any], *, encrypt: bool = True) -> Path:
        """Write (or overwrite) one subsidiary file; encrypted with ``sops`` unless told not to."""
        path = self.path_of(key)
        write_plain_subsidiary(path, data)
        if encrypt:
            sops_encrypt_in_place(self.root, path, self.age_key_file)
        return path

    def copy_to(self, destination: Path) -> ConfigRepo:
        """A copy of the repository at ``destination`` (same key): cheaper than a new one,
        for tests that build one template and break a fresh copy each."""
        shutil.copytree(self.root, destination, symlinks=True)
        return dataclasses.replace(self, root=destination,
                                   settings_file=destination / self.settings_file.name)

    def sops_decrypt(self, key: str) -> dict[str, Any]:
        """Decrypt a subsidiary file with the real ``sops`` binary (for interop assertions)."""
        result = subprocess.run(
            [sops_binary(), "decrypt", str(self.path_of(key))],
            cwd=self.root,
            env=self.sops_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        loaded: dict[str, Any] = yaml.safe_load(result.stdout)
        return loaded


def sops_binary() -> str:
    """The ``sops`` executable (from the venv: the ``sops-binary`` package)."""
    found = shutil.which("sops", path=str(Path(sys.executable).parent)) or shutil.which("sops")
    if found is None:
        raise RuntimeError("sops binary not found on PATH; install the dev extras")
    return found


def generate_age_key(path: Path) -> AgeKey:
    """A fresh age X25519 identity, written where ``SOPS_AGE_KEY_FILE`` can point."""
    identity = pyrage.x25519.Identity.generate()
    public_key = str(identity.to_public())
    secret_key = str(identity)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# created: {created}\n# public key: {public_key}\n{secret_key}\n")
    path.chmod(0o600)
    return AgeKey(public_key=public_key, secret_key=secret_key, path=path)


def sops_config_text(public_key: str, *, mac_only_encrypted: bool = True,
                     encrypted_regex: str = ENCRYPTED_REGEX) -> str:
    """A ``.sops.yaml`` with the one creation rule rtssync requires for subsidiary files."""
    return (
        "creation_rules:\n"
        "  - path_regex: ^config/subsidiaries/.*\\.yaml$\n"
        f"    age: {public_key}\n"
        f"    encrypted_regex: '{encrypted_regex}'\n"
        f"    mac_only_encrypted: {'true' if mac_only_encrypted else 'false'}\n"
    )


def default_settings() -> dict[str, Any]:
    """rtssync.yaml as DESIGN §2.3 shows it (local TMS inside the repo)."""
    return {
        "config_dir": SUBSIDIARIES_DIR,
        "tms": {"kind": "local", "path": ".rtssync/tms.sqlite"},
        "safety": {"max_deletes": 1, "max_update_fraction": 0.5},
        "policy": {"allowed_hosts": ["*.rtsfinancial.com"]},
        "prune": False,
    }


def subsidiary(n: int, **overrides: Any) -> dict[str, Any]:
    """A valid subsidiary document, unique by ``n`` (key ``sub-<n>``, name, MC, DOT, username).

    ``overrides`` replace top-level fields; pass ``key=`` to choose the file stem. Nested
    changes are easiest on the returned dict: ``doc["factoring"]["ftp"]["port"] = 2121``.
    """
    doc: dict[str, Any] = {
        "key": f"sub-{n}",
        "name": f"Subsidiary {n} LLC",
        "tms_id": None,
        "mc_number": f"{100000 + n}",
        "dot_number": f"{2000000 + n}",
        "notice_of_assignment": NOA_TEXT,
        "invoicing": {"method": "factoring", "auto_merge": True},
        "factoring": {
            "provider": "rts",
            "ftp": {
                "protocol": "ftp",
                "host": "devftp.rtsfinancial.com",
                "port": 21,
                "directory": "/incoming",
                "host_key": None,
                "username": f"rts-sub-{n}",
            },
        },
    }
    doc.update(overrides)
    return doc


def write_plain_subsidiary(path: Path, data: Mapping[str, Any]) -> None:
    """Write a subsidiary document as YAML, block style, with the editor schema comment."""
    body = {k: v for k, v in data.items() if k != "key"}
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False)
    path.write_text(SCHEMA_COMMENT + text, encoding="utf-8")


def sops_encrypt_in_place(root: Path, path: Path, age_key_file: Path) -> None:
    """Encrypt with the real ``sops`` binary, run from the root so ``.sops.yaml`` applies."""
    env = dict(os.environ)
    env["SOPS_AGE_KEY_FILE"] = str(age_key_file)
    subprocess.run(
        [sops_binary(), "encrypt", "--in-place", str(path.relative_to(root))],
        cwd=root,
        env=env,
        capture_output=True,
        check=True,
    )


def _with_password(doc: Mapping[str, Any], password: str | None) -> dict[str, Any]:
    """A copy of ``doc`` whose FTP block carries ``password`` unless it already sets one."""
    result = copy.deepcopy(dict(doc))
    factoring = result.get("factoring")
    ftp = factoring.get("ftp") if isinstance(factoring, dict) else None
    if isinstance(ftp, dict) and password is not None:
        ftp.setdefault("password", password)
    return result


def make_config_repo(
    tmp_path: Path,
    subsidiaries: Sequence[Mapping[str, Any]] | None = None,
    *,
    password: str | None = DEFAULT_PASSWORD,
    settings: Mapping[str, Any] | None = None,
    encrypt: bool = True,
    init_git: bool = False,
) -> ConfigRepo:
    """Write a complete, valid config repository under ``tmp_path / "repo"``.

    ``subsidiaries`` defaults to three (``subsidiary(1..3)``); each dict's ``key`` (default
    ``sub-<i>``) is its file stem. ``password`` is added to every FTP block that has none
    (``None``: files without a password, as after ``import``). ``encrypt=False`` leaves the
    credentials in plaintext (for tests of that error). ``init_git`` commits everything.
    """
    root = tmp_path / "repo"
    root.mkdir(parents=True, exist_ok=True)
    key = generate_age_key(tmp_path / "keys" / "age-key.txt")
    (root / ".sops.yaml").write_text(sops_config_text(key.public_key))
    settings_file = root / "rtssync.yaml"
    settings_file.write_text(
        yaml.safe_dump(dict(settings) if settings is not None else default_settings(),
                       sort_keys=False)
    )
    docs = list(subsidiaries) if subsidiaries is not None else [subsidiary(i) for i in (1, 2, 3)]
    repo = ConfigRepo(
        root=root,
        age_key_file=key.path,
        age_public_key=key.public_key,
        settings_file=settings_file,
        keys=tuple(str(doc.get("key", f"sub-{i}")) for i, doc in enumerate(docs, start=1)),
    )
    repo.subsidiaries_dir.mkdir(parents=True, exist_ok=True)
    for stem, doc in zip(repo.keys, docs, strict=True):
        repo.write_subsidiary(stem, _with_password(doc, password), encrypt=encrypt)
    if init_git:
        git_commit_all(root, "initial config")
    return repo


def git_commit_all(root: Path, message: str) -> str:
    """``git add -A && git commit`` in ``root`` (initialising it first); returns the commit id."""
    env = dict(os.environ)
    env.update({
        "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com",
    })
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, env=env, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=root, env=env, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, env=env, check=True,
                          capture_output=True, text=True)
    return head.stdout.strip()
