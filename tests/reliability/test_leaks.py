"""Leaks: every command, in successes and failures, run with canary credentials; everything it
produced is scanned for the canary password (and the canary FTP username) in plain, base64,
URL-encoded, JSON-escaped and repr forms. Zero may be found.

Scanned: stdout and stderr of every run, every file under the repository (plans, journal, lock,
encrypted files), every git object uncompressed, HOME, the TMPDIR the commands were given, the
reference server's log. Not scanned: the local TMS's own SQLite store (``.rtssync/tms.sqlite``),
which holds the password by design - it *is* the TMS, and must log in to RTS with it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rtssync.errors import RtssyncError
from rtssync.model import FtpCredentials, FtpProtocol, FtpSettings, Secret, SubsidiaryFields
from rtssync.tms.http import ClientCredentials, HttpBackend, HttpOptions
from tests.conftest import CANARY_PASSWORD
from tests.e2e.harness import RTSSYNC, World
from tests.reliability.canary import (
    CANARY_USERNAME,
    files_under,
    findings_in_files,
    findings_in_text,
)
from tests.reliability.conftest import Recorder
from tests.repo_factory import default_settings, make_config_repo, subsidiary
from tests.tms.server_fixture import run_server
from tests.verify.servers import FtpServer

SECRETS = (CANARY_PASSWORD, CANARY_USERNAME)


def _docs(ftp_port: int) -> list[dict[str, object]]:
    local_ftp = subsidiary(9, key="sub-9")
    local_ftp["factoring"]["ftp"].update(host="127.0.0.1", port=ftp_port,
                                         username=CANARY_USERNAME)
    return [subsidiary(1), subsidiary(2), local_ftp]


@contextmanager
def leak_world(tmp_path: Path, backend: str, ftp_port: int) -> Iterator[World]:
    settings = default_settings()
    settings["policy"] = {"allowed_hosts": ["*.rtsfinancial.com", "127.0.0.1"]}
    settings["safety"] = {"max_deletes": 1, "max_update_fraction": 1.0}
    if backend == "local":
        repo = make_config_repo(tmp_path, _docs(ftp_port), password=CANARY_PASSWORD,
                                settings=settings, init_git=True)
        yield World(tmp_path, repo, backend, None)
        return
    with run_server(tmp_path / "server-tms.sqlite") as server:
        settings["tms"] = {"kind": "http", "url": server.url}
        repo = make_config_repo(tmp_path, _docs(ftp_port), password=CANARY_PASSWORD,
                                settings=settings, init_git=True)
        yield World(tmp_path, repo, backend, server)


def run_every_command(world: World, ftp: FtpServer) -> list[int]:
    """Each command of DESIGN §3 that touches the repository, successes and failures."""
    # As `rtssync init` sets a repository up: local state (the local TMS) is never committed.
    (world.root / ".gitignore").write_text(".rtssync/\n")
    codes = [
        world.rtssync("validate").returncode,
        world.rtssync("plan").returncode,
        world.rtssync("plan", "--format", "json").returncode,
        world.rtssync("plan", "--format", "markdown").returncode,
        world.rtssync("plan", "--out", "plan.json").returncode,
        world.rtssync("apply", "plan.json", keys=True).returncode,
        world.rtssync("status").returncode,
        world.rtssync("status", "--format", "json").returncode,
        world.rtssync("verify", "sub-9", keys=True).returncode,
        world.rtssync("secrets", "set", "sub-1", "--username", CANARY_USERNAME + "-1",
                      "--password-stdin", keys=True, stdin=CANARY_PASSWORD + "\n").returncode,
        world.rtssync("plan", "--format", "json").returncode,
        world.rtssync("apply", "--yes", keys=True).returncode,
        world.rtssync("history").returncode,
        world.rtssync("history", "sub-9", "--format", "json").returncode,
    ]
    with world.store() as store:
        store.ui_create(SubsidiaryFields("Imported Co", "300001", "4000001"))
    codes.append(world.rtssync("import", keys=True).returncode)
    return codes + run_failures(world, ftp)


def run_failures(world: World, ftp: FtpServer) -> list[int]:
    """Failures: a stale plan, an FTP server gone, a file with the password in plaintext, an
    apply whose age key is the canary itself (in a real process, RTSSYNC_DEBUG unset)."""
    world.commit("import")
    codes = [
        world.rtssync("secrets", "set", "sub-2", "--username", "u", "--password-stdin",
                      stdin=CANARY_PASSWORD + "\n").returncode,  # needs no private key
        world.rtssync_process("apply", "plan.json", keys=True).returncode,  # stale
    ]
    broken = world.repo.path_of("sub-2")
    original = broken.read_text()  # with new credentials: the apply below must decrypt them
    ftp.stop()
    codes.append(world.rtssync("verify", "sub-9", keys=True).returncode)
    broken.write_text(original.replace("password: ENC[", f"password: '{CANARY_PASSWORD}'\n"
                                       "        old: ENC["))
    codes += [world.rtssync("validate").returncode, world.rtssync("plan").returncode]
    broken.write_text(original)
    env = world.env(keys=False)
    env["SOPS_AGE_KEY"] = CANARY_PASSWORD  # a "key" that is the secret itself
    env["SOPS_AGE_KEY_FILE"] = str(world.tmp_path / "no-such-dir" / "keys.txt")
    result = subprocess.run([RTSSYNC, "-C", str(world.root), "apply", "--yes"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    world.outputs += [result.stdout, result.stderr]
    codes.append(result.returncode)
    assert "Traceback" not in result.stderr
    return codes


def git_objects(root: Path) -> str:
    """Every object in the repository's git database, uncompressed (commits, trees, blobs)."""
    result = subprocess.run(["git", "cat-file", "--batch", "--batch-all-objects"], cwd=root,
                            capture_output=True, check=True)
    return result.stdout.decode("utf-8", "replace")


@pytest.mark.parametrize("backend", ["local", "http"])
def test_no_command_leaks_the_canary_anywhere(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Recorder,
) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    home = tmp_path / "ftp-home"
    home.mkdir()
    ftp = FtpServer(home, {CANARY_USERNAME: CANARY_PASSWORD}).start()
    try:
        with leak_world(tmp_path, backend, ftp.port) as world:
            codes = run_every_command(world, ftp)
            store = world.root / ".rtssync" / "tms.sqlite"
            files = files_under(world.root, tmpdir, tmp_path / "home",
                                skip=[store, Path(f"{store}-wal"), Path(f"{store}-shm")])
            found = findings_in_files(files, SECRETS)
            texts = [*world.outputs, *(world.server.log_lines if world.server else []),
                     git_objects(world.root)]
            for index, text in enumerate(texts):
                found += findings_in_text(f"output #{index}", text, SECRETS)
    finally:
        ftp.stop()
    figures(backend=backend, command_runs=len(codes), exit_codes=codes,
            files_scanned=len(files), outputs_scanned=len(texts), forms_per_secret=8,
            found=[f"{f.where}: {f.form}" for f in found])
    assert 0 in codes
    assert 1 in codes
    assert found == []


class EchoingTms(BaseHTTPRequestHandler):
    """A careless TMS: a token for anyone, and every other request refused with a problem
    document that echoes the request body - in JSON, as such servers do."""

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/oauth/token":
            self._send(200, {"access_token": "t", "expires_in": 3600})
            return
        echoed = body.decode("utf-8", "replace")
        self._send(400, {"title": "Bad Request", "detail": f"cannot accept {echoed}",
                         "errors": [{"field": "credentials", "message": echoed}]})

    def _send(self, status: int, document: dict[str, object]) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_a_tms_echoing_the_request_in_its_error_never_gets_the_password_shown(
    figures: Recorder,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingTms)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    login = FtpCredentials(CANARY_USERNAME, Secret(CANARY_PASSWORD))
    settings = FtpSettings(FtpProtocol.FTP, "devftp.rtsfinancial.com", 21, "/incoming", None)
    credentials = ClientCredentials("client", Secret("client-secret"))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with HttpBackend(url, credentials, HttpOptions(max_attempts=1)) as backend, \
                pytest.raises(RtssyncError) as refused:
            backend.put_rts_ftp("sub_1", settings, credentials=login,
                                credentials_revision="r1", if_match='"1"')
    finally:
        server.shutdown()
    message = str(refused.value)
    found = findings_in_text("the error", message, [CANARY_PASSWORD])
    figures(error_chars=len(message), found=[f.form for f in found])
    assert found == []


def test_an_internal_error_shows_its_type_never_the_value_that_caused_it(
    tmp_path: Path, figures: Recorder,
) -> None:
    """A TMS record rtssync cannot read (here: the invoicing method is the canary) is a bug
    path, not a user mistake; without RTSSYNC_DEBUG the real process prints the exception's type
    and never its text, which quotes the value."""
    repo = make_config_repo(tmp_path, [subsidiary(1)], password=CANARY_PASSWORD, init_git=True)
    world = World(tmp_path, repo, "local", None)
    assert world.rtssync("apply", "--yes", keys=True).returncode == 0
    store = world.root / ".rtssync" / "tms.sqlite"
    with closing(sqlite3.connect(store)) as db, db:
        db.execute("UPDATE subsidiaries SET invoicing_method = ?", (CANARY_PASSWORD,))
    result = world.rtssync_process("plan")
    output = result.stdout + result.stderr
    figures(exit=result.returncode, message=result.stderr.strip()[-200:])
    assert result.returncode == 1
    assert "Traceback" not in output
    assert findings_in_text("plan", output, [CANARY_PASSWORD]) == []
