"""age identities, found where and how the ``sops`` binary finds them (sops ``age/keysource.go``).

sops combines every source that is set: ``SOPS_AGE_KEY`` (identities, one per line),
``SOPS_AGE_KEY_FILE``, the output of ``SOPS_AGE_KEY_CMD`` (split like a shell line, run without a
shell), an SSH key (``SOPS_AGE_SSH_PRIVATE_KEY_FILE`` or ``~/.ssh/id_ed25519``) and the user
config file (``$XDG_CONFIG_HOME/sops/age/keys.txt``, else ``~/.config/sops/age/keys.txt``).
Discovery runs once per process and per environment: a command that decrypts 1,000 files should
not read key files (or run a key command) 1,000 times.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage

from rtssync.errors import SopsError

AGE_KEY_ENV = "SOPS_AGE_KEY"
AGE_KEY_FILE_ENV = "SOPS_AGE_KEY_FILE"
AGE_KEY_CMD_ENV = "SOPS_AGE_KEY_CMD"
AGE_SSH_KEY_FILE_ENV = "SOPS_AGE_SSH_PRIVATE_KEY_FILE"
_ENV_NAMES = (AGE_KEY_ENV, AGE_KEY_FILE_ENV, AGE_KEY_CMD_ENV, AGE_SSH_KEY_FILE_ENV)


@dataclass(frozen=True, slots=True)
class Identities:
    """The identities found, and a human description of every place that was searched."""

    identities: tuple[Any, ...]
    """pyrage identity objects (x25519 or ssh)."""
    searched: tuple[str, ...]
    """E.g. ``SOPS_AGE_KEY_FILE=/path (1 identity)``, ``~/.config/sops/age/keys.txt (missing)``."""
    recipients: tuple[str, ...] = ()
    """The public key of each identity (same order; "" for SSH keys), so a file's stanza for
    our recipient is tried first instead of every identity against every stanza (speed)."""

    def describe_search(self) -> str:
        return "; ".join(self.searched)


_cache: dict[tuple[str | None, ...], Identities] = {}


def find_identities(environ: Mapping[str, str] | None = None) -> Identities:
    """All age identities sops would use, cached per process for the same environment."""
    env = os.environ if environ is None else environ
    cache_key = (*(env.get(name) for name in _ENV_NAMES), env.get("XDG_CONFIG_HOME"), _home(env))
    found = _cache.get(cache_key)
    if found is None:
        found = _discover(env)
        _cache[cache_key] = found
    return found


def clear_identity_cache() -> None:
    """Forget discovered identities (tests that change keys between calls)."""
    _cache.clear()


def _discover(env: Mapping[str, str]) -> Identities:
    identities: list[Any] = []
    searched: list[str] = []
    for label, text in _sources(env):
        if text is None:
            searched.append(label)
            continue
        parsed = parse_identities(text, label)
        identities.extend(parsed)
        searched.append(f"{label} ({len(parsed)} identit{'y' if len(parsed) == 1 else 'ies'})")
    ssh = _ssh_identity(env, searched)
    if ssh is not None:
        identities.append(ssh)
    recipients = tuple(_recipient_of(identity) for identity in identities)
    return Identities(identities=tuple(identities), searched=tuple(searched), recipients=recipients)


def _recipient_of(identity: Any) -> str:
    to_public = getattr(identity, "to_public", None)
    return str(to_public()) if to_public is not None else ""


def _sources(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """(label, text) for every identity source in sops's order; text None: not there."""
    sources: list[tuple[str, str | None]] = []
    if AGE_KEY_ENV in env:
        sources.append((AGE_KEY_ENV, env[AGE_KEY_ENV]))
    else:
        sources.append((f"{AGE_KEY_ENV} (not set)", None))
    if AGE_KEY_FILE_ENV in env:
        path = env[AGE_KEY_FILE_ENV]
        sources.append((f"{AGE_KEY_FILE_ENV}={path}", _read_key_file(Path(path), AGE_KEY_FILE_ENV)))
    else:
        sources.append((f"{AGE_KEY_FILE_ENV} (not set)", None))
    if AGE_KEY_CMD_ENV in env:
        sources.append((f"{AGE_KEY_CMD_ENV} command", _run_key_command(env[AGE_KEY_CMD_ENV], env)))
    else:
        sources.append((f"{AGE_KEY_CMD_ENV} (not set)", None))
    default = user_key_file(env)
    if default is not None and default.is_file():
        sources.append((str(default), _read_key_file(default, str(default))))
    elif default is not None:
        sources.append((f"{default} (missing)", None))
    return sources


def user_key_file(env: Mapping[str, str]) -> Path | None:
    """Go's ``os.UserConfigDir()`` on Linux, plus ``sops/age/keys.txt``."""
    config_home = env.get("XDG_CONFIG_HOME")
    if config_home:
        return Path(config_home) / "sops" / "age" / "keys.txt"
    home = _home(env)
    return Path(home) / ".config" / "sops" / "age" / "keys.txt" if home else None


def _home(env: Mapping[str, str]) -> str | None:
    return env.get("HOME") or None


def _read_key_file(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise SopsError(
            f"cannot read age key file {path} (from {label}): {error.strerror}"
        ) from None


def _run_key_command(command: str, env: Mapping[str, str]) -> str:
    """Run SOPS_AGE_KEY_CMD like sops: shell-style split, no shell, stdout only."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise SopsError(f"{AGE_KEY_CMD_ENV}: cannot parse the command ({error})") from None
    if not argv:
        raise SopsError(f"{AGE_KEY_CMD_ENV} is empty")
    try:
        result = subprocess.run(argv, capture_output=True, check=False, env=dict(env), timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SopsError(f"{AGE_KEY_CMD_ENV}: cannot run {argv[0]!r} ({error})") from None
    if result.returncode != 0:
        raise SopsError(f"{AGE_KEY_CMD_ENV}: {argv[0]!r} exited with status {result.returncode}")
    return result.stdout.decode("utf-8", errors="replace")


def parse_identities(text: str, label: str) -> list[Any]:
    """age identities, one per line; blank lines and ``#`` comments are skipped (like sops)."""
    parsed = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("AGE-SECRET-KEY-1"):
            raise SopsError(f"{label}: line {number} is not an age identity (AGE-SECRET-KEY-1...)")
        try:
            parsed.append(pyrage.x25519.Identity.from_str(line))
        except Exception:
            # The message could echo the key material; say only where the bad line is.
            raise SopsError(f"{label}: line {number} is not a valid age identity") from None
    return parsed


def _ssh_identity(env: Mapping[str, str], searched: list[str]) -> Any | None:
    """An SSH private key usable as an age identity, as sops looks for one."""
    explicit = env.get(AGE_SSH_KEY_FILE_ENV)
    home = _home(env)
    candidates = [Path(explicit)] if explicit else []
    if not explicit and home:
        candidates = [Path(home) / ".ssh" / "id_ed25519", Path(home) / ".ssh" / "id_rsa"]
    for path in candidates:
        if path.is_file():
            try:
                identity = pyrage.ssh.Identity.from_buffer(path.read_bytes())
            except Exception:
                searched.append(f"{path} (not a usable unencrypted SSH key)")
                return None
            searched.append(f"{path} (SSH key)")
            return identity
    return None
