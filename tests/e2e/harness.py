"""End-to-end harness: a real config repo in git, the real CLI in subprocesses, a real TMS.

:class:`World` is one scenario: a config repository made by ``tests/repo_factory.py`` (real
sops-encrypted files, committed in git), the TMS it points at (the local SQLite backend, or the
reference server over loopback HTTP), and every byte the CLI printed, so a test can grep all of
it for the canary password at the end.

Processes run without any age key unless a test asks for ``keys=True``: HOME and
XDG_CONFIG_HOME point into tmp_path and every SOPS_AGE_* variable is removed, so "plan needs no
keys" is really tested.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import yaml
from click.testing import CliRunner

from rtssync.cli import cli
from rtssync.model import FtpCredentials, LiveSubsidiary, Secret
from rtssync.sops import clear_identity_cache
from rtssync.tms.local import LocalBackend
from tests.conftest import CANARY_PASSWORD
from tests.repo_factory import ConfigRepo, default_settings, git_commit_all, make_config_repo
from tests.tms.server_fixture import RunningServer, run_server

RTSSYNC = str(Path(sys.executable).parent / "rtssync")
BACKENDS = ("local", "http")


def canary_forms(secret: str = CANARY_PASSWORD) -> list[str]:
    """Every spelling of the canary that would count as a leak."""
    raw = secret.encode("utf-8")
    return [
        secret,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
    ]


@dataclass(frozen=True, slots=True)
class Ran:
    """What one CLI run left: exit code and output."""

    returncode: int
    stdout: str
    stderr: str


@dataclass
class World:
    """One end-to-end scenario and everything it produced."""

    tmp_path: Path
    repo: ConfigRepo
    backend_kind: str
    server: RunningServer | None
    outputs: list[str] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.repo.root

    def env(self, *, keys: bool) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
        home = self.tmp_path / "home"
        env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                    "NO_COLOR": "1", "COLUMNS": "200"})
        env.pop("RTSSYNC_DEBUG", None)
        if self.server is not None:
            env.update(self.server.env())
        if keys:
            env["SOPS_AGE_KEY_FILE"] = str(self.repo.age_key_file)
        return env

    def rtssync_process(self, *args: str, keys: bool = False, stdin: str | None = None,
                        ) -> Ran:
        """``rtssync -C <repo> ARGS`` in a real subprocess, exactly as a user runs it."""
        result = subprocess.run(
            [RTSSYNC, "-C", str(self.root), *args], env=self.env(keys=keys),
            input=stdin if stdin is not None else "", capture_output=True, text=True,
            timeout=120, check=False,
        )
        self.outputs += [result.stdout, result.stderr]
        return Ran(result.returncode, result.stdout, result.stderr)

    def rtssync(self, *args: str, keys: bool = False, stdin: str | None = None) -> Ran:
        """The same command in this process (click's runner, same environment rules): the
        CLI's start-up costs seconds on a busy machine, and most scenarios run it many times."""
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SOPS_")}
        env.update(self.env(keys=keys))
        clear_identity_cache()
        result = CliRunner().invoke(cli, ["-C", str(self.root), *args], env=env,
                                    input=stdin if stdin is not None else "")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.outputs += [result.stdout, result.stderr]
        return Ran(result.exit_code, result.stdout, result.stderr)

    def commit(self, message: str) -> str:
        return git_commit_all(self.root, message)

    @contextmanager
    def store(self) -> Iterator[LocalBackend]:
        """Direct access to the TMS's own store (to look, or to edit as the UI would)."""
        if self.server is not None:
            yield self.server.store
            return
        with LocalBackend(self.root / ".rtssync" / "tms.sqlite") as local:
            yield local

    def live(self) -> list[LiveSubsidiary]:
        with self.store() as store:
            return store.list_subsidiaries()

    def live_by_name(self, name: str) -> LiveSubsidiary:
        (found,) = [s for s in self.live() if s.fields.name == name]
        return found

    def ui_edit(self, tms_id: str, **edit: Any) -> None:
        """An edit in the TMS's web UI: the server's ui-edit endpoint, or the local store's."""
        if self.server is None:
            with self.store() as store:
                store.ui_edit(tms_id, **edit)
            return
        _http_ui_edit(self.server, tms_id, edit)

    def set_settings(self, **changes: Any) -> None:
        settings = self.settings_doc()
        settings.update(changes)
        self.repo.settings_file.write_text(yaml.safe_dump(settings, sort_keys=False))

    def settings_doc(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.repo.settings_file.read_text())
        return loaded

    def produced_text(self) -> str:
        """All output, plan files, the journal and the server's log: for the canary grep."""
        texts = list(self.outputs)
        for path in [*self.root.glob("*.json"), *self.tmp_path.glob("*.json"),
                     self.root / ".rtssync" / "journal.jsonl"]:
            if path.is_file():
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
        if self.server is not None:
            texts += self.server.log_lines
        return "\n".join(texts)


def _http_ui_edit(server: RunningServer, tms_id: str, edit: dict[str, Any]) -> None:
    body: dict[str, Any] = {}
    if "notice_of_assignment" in edit:
        body["noticeOfAssignment"] = edit["notice_of_assignment"]
    credentials = edit.get("credentials")
    if isinstance(credentials, FtpCredentials):
        body["credentials"] = {"username": credentials.username,
                               "password": credentials.password.reveal()}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = client.post("/oauth/token", json={
            "client_id": server.client_id, "client_secret": server.client_secret,
            "grant_type": "client_credentials"}).json()["access_token"]
        response = client.patch(f"/api/v1/subsidiaries/{tms_id}/ui-edit", json=body,
                                headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()


def ui_credentials() -> FtpCredentials:
    """What someone typed into the TMS's UI (not the canary: that is git's password)."""
    return FtpCredentials("typed-in-ui", Secret("ui-typed-password-1"))


@contextmanager
def make_world(tmp_path: Path, backend_kind: str) -> Iterator[World]:
    """A committed config repo with three subsidiaries (password: the canary) and its TMS."""
    settings = default_settings()
    if backend_kind == "local":
        repo = make_config_repo(tmp_path, password=CANARY_PASSWORD, settings=settings,
                                init_git=True)
        yield World(tmp_path, repo, backend_kind, None)
        return
    with run_server(tmp_path / "server-tms.sqlite") as server:
        settings["tms"] = {"kind": "http", "url": server.url}
        repo = make_config_repo(tmp_path, password=CANARY_PASSWORD, settings=settings,
                                init_git=True)
        yield World(tmp_path, repo, backend_kind, server)
