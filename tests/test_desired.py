"""load_desired_state: what plan gets, typed, with where every value is written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rtssync.config import load_settings
from rtssync.desired import DesiredState, load_desired_state, reused_login_problems
from rtssync.errors import ConfigError
from rtssync.model import (
    FactoringProvider,
    FtpProtocol,
    InvoicingMethod,
    SourceLocation,
    SubsidiaryFields,
)
from tests.repo_factory import ConfigRepo, make_config_repo, subsidiary

S1 = "config/subsidiaries/sub-1.yaml"


def desired_of(repo: ConfigRepo) -> DesiredState:
    return load_desired_state(load_settings(repo.root, repo.settings_file))


def test_each_file_becomes_a_typed_subsidiary_in_key_order(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(2, key="bravo"), subsidiary(1, key="alpha")])

    state = desired_of(repo)

    assert list(state.subsidiaries) == ["alpha", "bravo"]
    alpha = state.subsidiaries["alpha"]
    assert alpha.key == "alpha"
    assert alpha.source == repo.path_of("alpha")
    assert alpha.tms_id is None
    assert alpha.fields == SubsidiaryFields("Subsidiary 1 LLC", "100001", "2000001")
    assert alpha.invoicing.method is InvoicingMethod.FACTORING
    assert alpha.invoicing.auto_merge is True
    assert alpha.factoring is not None
    assert alpha.factoring.provider is FactoringProvider.RTS
    assert alpha.factoring.ftp.protocol is FtpProtocol.FTP
    assert (alpha.factoring.ftp.host, alpha.factoring.ftp.port) == ("devftp.rtsfinancial.com", 21)
    assert alpha.factoring.ftp.directory == "/incoming"
    assert alpha.factoring.ftp.host_key is None
    assert len(state) == 2


def test_credentials_stay_the_ciphertext_in_the_file(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)])
    text = repo.path_of("sub-1").read_text()

    factoring = desired_of(repo).subsidiaries["sub-1"].factoring
    assert factoring is not None
    credentials = factoring.credentials

    assert credentials.username_ciphertext.startswith("ENC[AES256_GCM,")
    assert credentials.password_ciphertext is not None
    assert f"username: {credentials.username_ciphertext}\n" in text
    assert f"password: {credentials.password_ciphertext}\n" in text


def test_digests_are_sha256_of_each_file_relative_to_the_root(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1), subsidiary(2)])

    state = desired_of(repo)

    assert state.digests == {
        repo.relpath_of(key): hashlib.sha256(repo.path_of(key).read_bytes()).hexdigest()
        for key in ("sub-1", "sub-2")
    }
    before = state.digest
    repo.path_of("sub-2").write_text(repo.path_of("sub-2").read_text().replace(
        "against this invoice.", "against this invoice!"))
    assert desired_of(repo).digest != before


def test_locations_name_the_line_and_column_of_every_value(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)])

    locations = desired_of(repo).subsidiaries["sub-1"].locations

    assert locations["factoring.ftp.host"] == SourceLocation(Path(S1), 18, 15)
    assert locations["mc_number"] == SourceLocation(Path(S1), 4, 12)
    assert locations["factoring.ftp"] == SourceLocation(Path(S1), 16, 5)
    assert not any(path.startswith("sops") for path in locations)


def test_the_noa_reaches_the_model_with_lf_line_endings(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)])
    text = repo.path_of("sub-1").read_text()
    start = text.index("notice_of_assignment: |")
    end = text.index("invoicing:")
    crlf = json.dumps("NOTICE OF ASSIGNMENT\r\nPay RTS only.\rThank you.\r\n")
    repo.path_of("sub-1").write_text(text[:start] + f"notice_of_assignment: {crlf}\n" +
                                     text[end:])

    noa = desired_of(repo).subsidiaries["sub-1"].notice_of_assignment

    assert noa == "NOTICE OF ASSIGNMENT\nPay RTS only.\nThank you.\n"


def test_a_password_not_set_yet_still_loads_so_plan_can_say_what_to_do(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1)], password=None)

    factoring = desired_of(repo).subsidiaries["sub-1"].factoring

    assert factoring is not None
    assert factoring.credentials.password_ciphertext is None


def test_every_blocking_problem_is_raised_at_once(tmp_path: Path) -> None:
    repo = make_config_repo(tmp_path, [subsidiary(1), subsidiary(2)])
    for key, old, new in (("sub-1", "auto_merge: true", "auto_merge: false"),
                          ("sub-2", "port: 21", "port: 0")):
        path = repo.path_of(key)
        path.write_text(path.read_text().replace(old, new))

    with pytest.raises(ConfigError) as raised:
        desired_of(repo)

    assert [str(p) for p in raised.value.problems] == [
        f"{S1}:13:17: invoicing.auto_merge: must be true when invoicing.method is factoring "
        "(Alvys requires AutoMerge for the Factoring Company method)",
        "config/subsidiaries/sub-2.yaml:19:15: factoring.ftp.port: 0 is below the minimum 1 "
        "(TCP port from 1 to 65535: 21 for ftp, 22 for sftp)",
    ]


def test_with_keys_a_reused_rts_login_is_named_in_both_files(tmp_path: Path) -> None:
    reused = subsidiary(2)
    reused["factoring"]["ftp"]["username"] = "rts-sub-1"
    repo = make_config_repo(tmp_path, [subsidiary(1), reused, subsidiary(3)])
    state = desired_of(repo)
    usernames = {key: repo.sops_decrypt(key)["factoring"]["ftp"]["username"] for key in repo.keys}

    problems = reused_login_problems(state.subsidiaries, usernames)

    assert [str(p) for p in problems] == [
        "config/subsidiaries/sub-2.yaml:22:19: factoring.ftp.username: the same RTS FTP "
        f"username as {S1}:22:19; RTS issues one login per subsidiary, so each file needs its own"
    ]
    assert reused_login_problems(state.subsidiaries, {"sub-1": "a", "sub-3": "b"}) == []
