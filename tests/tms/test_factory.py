"""open_backend: rtssync.yaml's ``tms`` section -> a working backend, or one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtssync.config import Settings, TmsKind, TmsSettings
from rtssync.errors import RtssyncError
from rtssync.model import SubsidiaryFields
from rtssync.tms.alvys import AlvysBackend
from rtssync.tms.factory import CLIENT_ID_ENV, CLIENT_SECRET_ENV, open_backend
from rtssync.tms.local import LocalBackend

from .server_fixture import run_server


def settings_for(root: Path, tms: TmsSettings) -> Settings:
    return Settings(root=root, source=root / "rtssync.yaml", tms=tms)


def test_local_opens_the_store_relative_to_the_repository_root(tmp_path: Path) -> None:
    backend = open_backend(settings_for(tmp_path, TmsSettings()))
    try:
        assert isinstance(backend, LocalBackend)
        backend.create_subsidiary(SubsidiaryFields("A", "1", "2"), idempotency_key="k")
    finally:
        backend.close()
    assert (tmp_path / ".rtssync" / "tms.sqlite").is_file()


def test_local_honours_an_absolute_path(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "state.sqlite"
    backend = open_backend(settings_for(tmp_path / "repo", TmsSettings(path=elsewhere)))
    backend.close()
    assert elsewhere.is_file()


@pytest.mark.parametrize("kind", [TmsKind.HTTP, TmsKind.ALVYS])
@pytest.mark.parametrize("url", [None, "", "  "])
def test_a_remote_backend_without_url_is_a_clear_error(
    tmp_path: Path, kind: TmsKind, url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CLIENT_ID_ENV, "id")
    monkeypatch.setenv(CLIENT_SECRET_ENV, "secret")
    with pytest.raises(RtssyncError, match=r"rtssync\.yaml: tms\.kind is \w+ but tms\.url"):
        open_backend(settings_for(tmp_path, TmsSettings(kind=kind, url=url)))


@pytest.mark.parametrize("kind", [TmsKind.HTTP, TmsKind.ALVYS])
@pytest.mark.parametrize(
    ("present", "named"),
    [
        ({}, f"{CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}"),
        ({CLIENT_ID_ENV: "id"}, CLIENT_SECRET_ENV),
        ({CLIENT_SECRET_ENV: "secret"}, CLIENT_ID_ENV),
        ({CLIENT_ID_ENV: "", CLIENT_SECRET_ENV: "secret"}, CLIENT_ID_ENV),
        ({CLIENT_ID_ENV: "  ", CLIENT_SECRET_ENV: "secret"}, CLIENT_ID_ENV),
    ],
)
def test_a_remote_backend_without_client_credentials_names_what_is_missing(
    tmp_path: Path,
    kind: TmsKind,
    present: dict[str, str],
    named: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (CLIENT_ID_ENV, CLIENT_SECRET_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in present.items():
        monkeypatch.setenv(name, value)
    tms = TmsSettings(kind=kind, url="https://tms.example.test")
    with pytest.raises(RtssyncError) as refused:
        open_backend(settings_for(tmp_path, tms))
    assert str(refused.value).startswith(f"the {kind.value} TMS backend needs {named} in")
    assert "secret" not in str(refused.value).replace(CLIENT_SECRET_ENV, "")


def test_http_talks_to_the_tms_at_the_configured_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run_server(tmp_path / "tms.sqlite") as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        made = server.store.ui_create(SubsidiaryFields("Made In The UI LLC", "0100", "0200"))
        tms = TmsSettings(kind=TmsKind.HTTP, url=server.url)
        backend = open_backend(settings_for(tmp_path, tms))
        try:
            assert backend.list_subsidiaries() == [made]
        finally:
            backend.close()


def test_alvys_opens_the_alvys_adapter_at_the_configured_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CLIENT_ID_ENV, "id")
    monkeypatch.setenv(CLIENT_SECRET_ENV, "secret")
    tms = TmsSettings(kind=TmsKind.ALVYS, url="https://alvys.example.test")
    backend = open_backend(settings_for(tmp_path, tms))  # constructing it sends nothing
    try:
        assert isinstance(backend, AlvysBackend)
    finally:
        backend.close()
