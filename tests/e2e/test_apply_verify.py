"""``apply --verify``: each RTS login is tried on a real (loopback) FTP server before the TMS
gets it; a login that does not work is never sent."""

from __future__ import annotations

from pathlib import Path

from rtssync.model import Secret
from tests.conftest import CANARY_PASSWORD
from tests.e2e.harness import World, canary_forms
from tests.repo_factory import default_settings, make_config_repo, subsidiary
from tests.verify.servers import DIRECTORY, LOOPBACK, FtpServer, running


def test_verify_sends_only_logins_that_work(tmp_path: Path) -> None:
    users = {"rts-sub-1": CANARY_PASSWORD, "rts-sub-2": "what RTS really issued"}
    with running(FtpServer(tmp_path / "ftp", users)) as server:
        docs = [subsidiary(n) for n in (1, 2)]
        for doc in docs:
            doc["factoring"]["ftp"].update(host=LOOPBACK, port=server.port, directory=DIRECTORY)
        settings = default_settings()
        settings["policy"] = {"allowed_hosts": ["*.rtsfinancial.com", LOOPBACK]}
        repo = make_config_repo(tmp_path, docs, password=CANARY_PASSWORD, settings=settings,
                                init_git=True)
        world = World(tmp_path, repo, "local", None)
        result = world.rtssync_process("apply", "--yes", "--verify", keys=True)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "failed   sub-2/configure_ftp" in result.stdout
        assert "--verify: the RTS login does not work at 127.0.0.1" in result.stdout
        assert "Applied 7, failed 1, skipped 0." in result.stdout
        with world.store() as store:
            by_name = {s.fields.name: s for s in store.list_subsidiaries()}
            assert by_name["Subsidiary 2 LLC"].rts_ftp is None
            one = by_name["Subsidiary 1 LLC"]
            assert store.password_matches(one.tms_id, Secret(CANARY_PASSWORD))
        produced = world.produced_text()
        for form in canary_forms():
            assert form not in produced
