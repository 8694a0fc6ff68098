"""``rtssync import``: files for live subsidiaries that have none, usernames encrypted."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from rtssync.importer import subsidiary_key
from rtssync.model import (
    FtpCredentials,
    FtpProtocol,
    FtpSettings,
    Invoicing,
    InvoicingMethod,
    LiveSubsidiary,
    Secret,
    SubsidiaryFields,
)
from rtssync.tms.local import LocalBackend
from tests.conftest import CANARY_PASSWORD
from tests.repo_factory import ConfigRepo, make_config_repo, subsidiary

NOA = "NOTICE OF ASSIGNMENT\nPay only to RTS Financial Service, Inc.\n  indented line kept\n"


def rtssync(repo: ConfigRepo, *args: str, keys: bool = True) -> subprocess.CompletedProcess[str]:
    env = repo.sops_env() if keys else {
        k: v for k, v in repo.sops_env().items() if not k.startswith("SOPS_AGE")
    }
    return subprocess.run(
        [sys.executable, "-m", "rtssync", "-C", str(repo.root), *args],
        capture_output=True, text=True, env=env, check=False,
    )


def add_live(backend: LocalBackend, name: str, n: int, *, ftp: bool = True) -> LiveSubsidiary:
    live = backend.ui_create(SubsidiaryFields(name, f"{900000 + n}", f"{3000000 + n}"))
    return backend.ui_edit(
        live.tms_id,
        notice_of_assignment=NOA,
        invoicing=Invoicing(InvoicingMethod.FACTORING, auto_merge=True),
        ftp_settings=FtpSettings(FtpProtocol.SFTP, "sftp.rtsfinancial.com", 22, "/in",
                                 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc") if ftp else None,
        credentials=FtpCredentials(f"rts-live-{n}", Secret(CANARY_PASSWORD)) if ftp else None,
    )



@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path, [subsidiary(1)])


@pytest.fixture
def backend(repo: ConfigRepo) -> Iterator[LocalBackend]:
    with LocalBackend(repo.root / ".rtssync" / "tms.sqlite") as local:
        yield local


def test_subsidiary_key_is_a_readable_unique_file_stem() -> None:
    assert subsidiary_key("Delta Haul, Inc.", set()) == "delta-haul-inc"
    assert subsidiary_key("Délta Haul", {"delta-haul"}) == "delta-haul-2"
    assert subsidiary_key("!!!", set()) == "subsidiary"


def test_import_writes_an_encrypted_file_that_sops_reads_and_plan_then_matches(
    repo: ConfigRepo, backend: LocalBackend
) -> None:
    live = add_live(backend, "Delta Haul, Inc.", 1)
    add_live(backend, "Echo Lines", 2, ftp=False)

    result = rtssync(repo, "import", keys=False)  # needs no private key: public recipients do

    assert result.returncode == 0, result.stderr
    assert "wrote config/subsidiaries/delta-haul-inc.yaml" in result.stdout
    assert "skipped Echo Lines" in result.stdout
    assert "no RTS FTP settings" in result.stdout
    path = repo.path_of("delta-haul-inc")
    text = path.read_text()
    assert "rts-live-1" not in text  # the username is encrypted as written
    assert "rtssync secrets set delta-haul-inc" in text  # says how to set the password
    plain = repo.sops_decrypt("delta-haul-inc")
    assert plain["tms_id"] == live.tms_id
    assert plain["notice_of_assignment"] == NOA
    assert plain["factoring"]["ftp"]["username"] == "rts-live-1"
    assert plain["factoring"]["ftp"]["host_key"] == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc"
    assert "password" not in plain["factoring"]["ftp"]
    assert yaml.safe_load(text)["mc_number"] == "900001"  # a string, leading zeros safe


def test_validate_reports_the_missing_password_until_secrets_set(
    repo: ConfigRepo, backend: LocalBackend
) -> None:
    add_live(backend, "Delta Haul", 1)
    assert rtssync(repo, "import").returncode == 0

    before = rtssync(repo, "validate")
    assert before.returncode == 1
    assert "config/subsidiaries/delta-haul.yaml" in before.stderr + before.stdout
    assert "secrets set delta-haul" in before.stderr + before.stdout

    set_result = subprocess.run(
        [sys.executable, "-m", "rtssync", "-C", str(repo.root), "secrets", "set", "delta-haul",
         "--username", "rts-live-1", "--password-stdin"],
        input=CANARY_PASSWORD + "\n", capture_output=True, text=True, env=repo.sops_env(),
        check=False,
    )
    assert set_result.returncode == 0, set_result.stderr
    assert rtssync(repo, "validate").returncode == 0


def test_a_second_import_writes_nothing_and_never_overwrites(
    repo: ConfigRepo, backend: LocalBackend
) -> None:
    add_live(backend, "Delta Haul", 1)
    assert rtssync(repo, "import").returncode == 0
    written = repo.path_of("delta-haul").read_bytes()

    again = rtssync(repo, "import")

    assert again.returncode == 0, again.stderr
    assert "nothing to import" in again.stdout
    assert repo.path_of("delta-haul").read_bytes() == written


def test_only_imports_the_named_ids_and_rejects_unknown_ones(
    repo: ConfigRepo, backend: LocalBackend
) -> None:
    first = add_live(backend, "Delta Haul", 1)
    add_live(backend, "Foxtrot Freight", 2)

    result = rtssync(repo, "import", "--only", first.tms_id)
    assert result.returncode == 0, result.stderr
    assert repo.path_of("delta-haul").exists()
    assert not repo.path_of("foxtrot-freight").exists()

    unknown = rtssync(repo, "import", "--only", "sub_nope")
    assert unknown.returncode == 1
    assert "sub_nope" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_subsidiary_that_a_file_describes_is_not_imported(
    repo: ConfigRepo, backend: LocalBackend
) -> None:
    # Same MC number as the file sub-1: the matcher binds them, so there is nothing to import.
    backend.ui_create(SubsidiaryFields("Renamed In UI", "100001", "2999999"))

    result = rtssync(repo, "import")

    assert result.returncode == 0, result.stderr
    assert sorted(p.stem for p in repo.subsidiaries_dir.glob("*.yaml")) == ["sub-1"]


def test_the_canary_password_reaches_no_output_or_file(
    repo: ConfigRepo, backend: LocalBackend
) -> None:
    add_live(backend, "Delta Haul", 1)
    result = rtssync(repo, "import")
    assert result.returncode == 0
    produced = result.stdout + result.stderr
    produced += "".join(p.read_text() for p in repo.subsidiaries_dir.glob("*.yaml"))
    assert CANARY_PASSWORD not in produced
