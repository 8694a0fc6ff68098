"""Secure defaults: owner-only files where anything sensitive is kept, no plaintext credential on
disk at any moment, TLS verified by default, no core dumps, and a reference server whose log
never shows what clients sent it."""

from __future__ import annotations

import os
import re
import socket
import ssl
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import yaml

from rtssync.errors import RtssyncError
from rtssync.model import Secret
from rtssync.tms.http import ClientCredentials, HttpBackend, HttpOptions
from tests.conftest import CANARY_PASSWORD
from tests.e2e.harness import RTSSYNC, World
from tests.reliability.canary import files_under, findings_in_files, findings_in_text
from tests.reliability.conftest import Recorder
from tests.reliability.worlds import start_rtssync, template_repo
from tests.repo_factory import ConfigRepo, default_settings, make_config_repo, subsidiary
from tests.tms.server_fixture import TEST_CLIENT_ID, TEST_CLIENT_SECRET
from tests.verify.servers import FtpServer, Pki, make_pki, running, unused_port

NEW_PASSWORD = CANARY_PASSWORD + "-rotated"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    return template_repo(tmp_path_factory.mktemp("secure-template"), 3)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_files_are_owner_only(template: ConfigRepo, tmp_path: Path,
                                    figures: Recorder) -> None:
    world = World(tmp_path, template.copy_to(tmp_path / "repo"), "local", None)
    plan_file = world.root / "plan.json"
    plan_file.write_text("{}")
    plan_file.chmod(0o644)  # a world-readable file in the way: --out must not keep its mode
    assert world.rtssync("plan", "--out", "plan.json").returncode == 0
    assert world.rtssync("apply", "plan.json", keys=True).returncode == 0
    state = world.root / ".rtssync"
    modes = {path.name: oct(mode(path)) for path in [state, *state.iterdir(), plan_file]}
    figures(modes=modes)
    assert mode(state) == 0o700
    for path in state.iterdir():
        assert mode(path) == 0o600, path.name  # journal, lock, the TMS store and its WAL
    assert mode(plan_file) == 0o600


def test_init_writes_its_age_key_owner_only(tmp_path: Path, figures: Recorder) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    env = {k: v for k, v in env.items() if not k.startswith("SOPS_")}
    result = subprocess.run([RTSSYNC, "-C", str(tmp_path / "repo"), "init"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    private = re.compile(r"^AGE-SECRET-KEY-1[0-9A-Z]+$", re.MULTILINE)
    keys = [p for p in files_under(home, tmp_path / "repo")
            if private.search(p.read_text(errors="replace"))]
    figures(key_files={str(p.relative_to(tmp_path)): oct(mode(p)) for p in keys})
    assert keys
    for key in keys:
        assert mode(key) == 0o600
        assert mode(key.parent) == 0o700


class DiskWatch:
    """Reads every file under some folders, over and over, while a command runs: a plaintext
    credential on disk even for a moment is caught if it lasts one sweep (~ms)."""

    def __init__(self, *roots: Path) -> None:
        self.roots = roots
        self.sweeps = 0
        self.found: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                hits = findings_in_files(files_under(*self.roots), [CANARY_PASSWORD,
                                                                    NEW_PASSWORD])
            except OSError:  # a file replaced between listing and reading
                continue
            self.found += [f"{hit.where}: {hit.form}" for hit in hits]
            self.sweeps += 1

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_no_plaintext_credential_touches_disk_during_secrets_set_and_apply(
    template: ConfigRepo, tmp_path: Path, figures: Recorder,
) -> None:
    world = World(tmp_path, template.copy_to(tmp_path / "repo"), "local", None)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    store = world.root / ".rtssync"
    store.mkdir(mode=0o700)
    env_tmp = {"TMPDIR": str(tmpdir)}
    watched = [world.root / "config", world.root / "rtssync.yaml", tmpdir, tmp_path / "home"]
    (tmp_path / "home").mkdir()
    with DiskWatch(*watched) as watch:
        secrets = start_rtssync(world, "secrets", "set", "sub-1", "--username", "rts-sub-1",
                                "--password-stdin", stdin=True, extra_env=env_tmp)
        out, err = secrets.communicate(NEW_PASSWORD + "\n", timeout=120)
        assert secrets.returncode == 0, err
        apply = start_rtssync(world, "apply", "--yes", extra_env=env_tmp)
        out, err = apply.communicate(timeout=120)
        assert apply.returncode == 0, out + err
    figures(sweeps=watch.sweeps, found=watch.found, tmpdir_files=len(files_under(tmpdir)))
    assert watch.sweeps > 0
    assert watch.found == []


def test_verify_refuses_a_self_signed_ftps_server_without_a_ca_bundle(
    tmp_path: Path, figures: Recorder,
) -> None:
    pki = make_pki(tmp_path)
    home = tmp_path / "ftp"
    home.mkdir()
    with running(FtpServer(home, {"rts-sub-1": CANARY_PASSWORD}, pki.self_signed)) as server:
        doc = subsidiary(1)
        doc["factoring"]["ftp"].update(protocol="ftps", host="127.0.0.1", port=server.port)
        settings = default_settings()
        settings["policy"] = {"allowed_hosts": ["127.0.0.1"]}
        repo = make_config_repo(tmp_path, [doc], password=CANARY_PASSWORD, settings=settings)
        world = World(tmp_path, repo, "local", None)
        refused = world.rtssync("verify", keys=True)
        trusted = world.rtssync("verify", "--ca-bundle", str(pki.self_signed), keys=True)
    figures(without_ca_bundle=refused.returncode, with_its_certificate=trusted.returncode)
    assert refused.returncode == 1
    assert "certificate" in (refused.stdout + refused.stderr).lower()
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr


class SelfSignedTlsServer:
    """A TLS listener with a self-signed certificate that counts completed handshakes."""

    def __init__(self, pki: Pki) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pki.self_signed)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.handshakes = 0
        self.attempts = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.attempts += 1
            try:
                with self.context.wrap_socket(conn, server_side=True):
                    self.handshakes += 1
            except (ssl.SSLError, OSError):
                conn.close()


def test_the_http_tms_backend_refuses_a_self_signed_https_server(
    tmp_path: Path, figures: Recorder,
) -> None:
    server = SelfSignedTlsServer(make_pki(tmp_path))
    options = HttpOptions(max_attempts=1)
    credentials = ClientCredentials(TEST_CLIENT_ID, Secret(TEST_CLIENT_SECRET))
    with HttpBackend(f"https://127.0.0.1:{server.port}", credentials, options) as backend, \
            pytest.raises(RtssyncError) as refused:
        backend.list_subsidiaries()
    server.listener.close()
    figures(connection_attempts=server.attempts, completed_handshakes=server.handshakes,
            error=str(refused.value))
    assert server.attempts >= 1
    assert server.handshakes == 0  # the client hung up on the certificate: nothing was sent
    assert TEST_CLIENT_SECRET not in str(refused.value)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``rtssync tms serve`` as a real process on a free port."""
    port = unused_port()
    env = {**os.environ, "RTSSYNC_TMS_CLIENT_ID": TEST_CLIENT_ID,
           "RTSSYNC_TMS_CLIENT_SECRET": TEST_CLIENT_SECRET}
    env.pop("RTSSYNC_DEBUG", None)
    process = subprocess.Popen(
        [RTSSYNC, "-C", str(tmp_path), "tms", "serve", "--port", str(port), "--rate-limit",
         "1000"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.post(url + "/oauth/token", json={}, timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield process, url
    if process.poll() is None:
        process.terminate()
        process.communicate(timeout=30)


def test_the_cli_process_may_not_dump_core(served: tuple[subprocess.Popen[str], str],
                                           figures: Recorder) -> None:
    process, _ = served
    limits = Path(f"/proc/{process.pid}/limits").read_text()
    line = next(row for row in limits.splitlines() if row.startswith("Max core file size"))
    soft, hard = line.split()[4:6]
    figures(max_core_file_size=[soft, hard])
    assert (soft, hard) == ("0", "0")


def test_the_reference_servers_log_never_shows_what_clients_sent(
    served: tuple[subprocess.Popen[str], str], template: ConfigRepo, tmp_path: Path,
    figures: Recorder,
) -> None:
    process, url = served
    repo = template.copy_to(tmp_path / "repo")
    settings = default_settings()
    settings["tms"] = {"kind": "http", "url": url, "options": {"rate_limit": "1000"}}
    repo.settings_file.write_text(yaml.safe_dump(settings))
    world = World(tmp_path, repo, "http", None)
    client_env = {"RTSSYNC_TMS_CLIENT_ID": TEST_CLIENT_ID,
                  "RTSSYNC_TMS_CLIENT_SECRET": TEST_CLIENT_SECRET}
    applied = start_rtssync(world, "apply", "--yes", extra_env=client_env)
    applied_out, applied_err = applied.communicate(timeout=120)
    assert applied.returncode == 0, applied_out + applied_err
    nasty = [  # what a confused or hostile client sends, the canary in every place
        ("POST", "/oauth/token", {"client_id": "x", "client_secret": CANARY_PASSWORD}),
        ("GET", f"/api/v1/subsidiaries/{CANARY_PASSWORD}", None),
        ("POST", f"/api/v1/subsidiaries/search?q={CANARY_PASSWORD}", {"page": CANARY_PASSWORD}),
    ]
    with httpx.Client(base_url=url, timeout=10) as http:
        for method, path, body in nasty:
            http.request(method, path, json=body,
                           headers={"Authorization": f"Bearer {quote(CANARY_PASSWORD)}"})
    process.terminate()
    out, err = process.communicate(timeout=30)
    found = findings_in_text("tms serve output", out + err, [CANARY_PASSWORD])
    figures(log_lines=len((out + err).splitlines()), requests_with_canary=len(nasty),
            found=[f.form for f in found])
    assert found == []
