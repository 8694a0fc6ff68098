"""Scenarios for the reliability suite, built on the e2e harness (:class:`World`).

A config repository is expensive to make (the real ``sops`` binary encrypts every file), so each
module makes one template and every trial works on a copy of it, pointed at its own TMS.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CANARY_PASSWORD
from tests.e2e.harness import RTSSYNC, World
from tests.repo_factory import (
    ConfigRepo,
    default_settings,
    git_commit_all,
    make_config_repo,
    subsidiary,
)
from tests.tms.server_fixture import RunningServer, run_server

FAST_CLIENT = {"rate_limit": "1000", "rate_burst": "100", "backoff_initial": "0.01",
               "backoff_max": "0.05"}
"""tms.options for a test client: no pacing (the test server allows it), quick retries."""


def template_repo(tmp_path: Path, count: int) -> ConfigRepo:
    """A committed repository with ``count`` subsidiaries whose password is the canary."""
    return make_config_repo(tmp_path, [subsidiary(n) for n in range(1, count + 1)],
                            password=CANARY_PASSWORD, init_git=True)


def key_of_mc(repo: ConfigRepo) -> dict[str, str]:
    """MC number -> file key, for the repositories :func:`template_repo` makes."""
    return {str(100000 + int(key.split("-")[1])): key for key in repo.keys}


def write_settings(repo: ConfigRepo, tms: dict[str, Any]) -> None:
    settings = default_settings()
    settings["tms"] = tms
    settings["safety"] = {"max_deletes": 1, "max_update_fraction": 1.0}
    repo.settings_file.write_text(yaml.safe_dump(settings, sort_keys=False))
    git_commit_all(repo.root, "point at this trial's TMS")


def local_world(template: ConfigRepo, tmp_path: Path) -> World:
    """A copy of ``template`` on the local SQLite TMS (inside the copy)."""
    repo = template.copy_to(tmp_path / "repo")
    write_settings(repo, {"kind": "local", "path": ".rtssync/tms.sqlite"})
    return World(tmp_path, repo, "local", None)


@contextmanager
def http_world(template: ConfigRepo, tmp_path: Path, *, options: dict[str, str] | None = None,
               **server_config: Any) -> Iterator[World]:
    """A copy of ``template`` on its own reference server (``server_config``: faults, ...)."""
    server_config.setdefault("rate_limit", 1000.0)
    with run_server(tmp_path / "server-tms.sqlite", **server_config) as server:
        repo = template.copy_to(tmp_path / "repo")
        write_settings(repo, {"kind": "http", "url": server.url,
                              "options": {**FAST_CLIENT, **(options or {})}})
        yield World(tmp_path, repo, "http", server)


def store_path(world: World) -> Path:
    """The TMS's SQLite file (the server's, or the local backend's inside the repository)."""
    if world.server is not None:
        return world.server.db_path
    return world.root / ".rtssync" / "tms.sqlite"


def outcomes(server: RunningServer) -> Counter[str]:
    """What the server answered, from its access log: status codes and ``dropped``."""
    counted: Counter[str] = Counter()
    for line in server.log_lines:
        parts = line.split()  # "METHOD ROUTE OUTCOME 1.2ms"; ROUTE may be "(no route)"
        if len(parts) >= 4 and parts[-1].endswith("ms"):
            counted[parts[-2]] += 1
    return counted


def start_rtssync(world: World, *args: str, keys: bool = True, stdin: bool = False,
                  extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``rtssync -C <repo> ARGS`` as a real process of its own (its own process group)."""
    return subprocess.Popen(
        [RTSSYNC, "-C", str(world.root), *args], env={**world.env(keys=keys), **(extra_env or {})},
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def kill_hard(process: subprocess.Popen[str]) -> None:
    """SIGKILL, as the OOM killer or a pulled plug would: no handler, no clean-up."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
