"""The alvys adapter against a stand-in for the Alvys cloud (httpx.MockTransport).

The Alvys cloud cannot run here, so this is the one place a mock is used: it answers as Alvys's
published documentation says Alvys answers, and records what the adapter sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from rtssync.config import Settings, TmsKind, TmsSettings
from rtssync.errors import RtssyncError, TmsError
from rtssync.model import LiveSubsidiary, Secret, SubsidiaryFields
from rtssync.tms import wire
from rtssync.tms.alvys import (
    ALVYS_AUDIENCE,
    ALVYS_TOKEN_URL,
    DEFAULT_CARRIER_STATUSES,
    AlvysBackend,
    paths_from_options,
)
from rtssync.tms.http import ClientCredentials, HttpOptions
from tests.conftest import CANARY_PASSWORD

SEARCH_URL = "https://integrations.alvys.com/api/p/v1/carriers/search"
SUBSIDIARY_PATH = "/api/p/v1/rtssync/subsidiaries/{id}"
FAST = HttpOptions(page_size=2, rate_limit=1000.0, rate_burst=100.0, backoff_initial=0.01)

ENTITIES = [
    {"id": "c-1", "name": "Outside Carrier", "mcNum": "111", "usDotNum": "222",
     "type": "Carrier", "status": "Active"},
    {"id": "s-1", "name": "Alpha Freight LLC", "mcNum": "0100001", "usDotNum": "02000001",
     "type": "Subsidiary", "status": "Active"},
    {"id": "s-2", "name": "Beta Haul Inc", "mcNum": "0100002", "usDotNum": "02000002",
     "type": "Subsidiary", "status": "Pending"},
    {"id": "c-2", "name": "Another Carrier", "mcNum": "333", "usDotNum": "444",
     "type": "Carrier", "status": "Active"},
    {"id": "s-3", "name": "Gamma Lines", "mcNum": "0100003", "usDotNum": "02000003",
     "type": "Subsidiary", "status": "Packet Completed"},
]  # fmt: skip


def live(tms_id: str, name: str) -> LiveSubsidiary:
    return LiveSubsidiary(
        tms_id=tms_id,
        fields=SubsidiaryFields(name, "1", "2"),
        notice_of_assignment="NOTICE",
        invoicing=None,
        rts_ftp=None,
        etag='"v1"',
    )


@dataclass
class FakeAlvys:
    """Answers like the documented Alvys API and records every request."""

    client_secret: str = "alvys-secret"
    requests: list[httpx.Request] = field(default_factory=list)
    token: str = "alvys-token-1"

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if str(request.url) == ALVYS_TOKEN_URL:
            return self._token(request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"message": "Unauthorized"})
        if str(request.url) == SEARCH_URL:
            return self._search(json.loads(request.content))
        if request.url.path.startswith("/api/p/v1/rtssync/subsidiaries/"):
            return self._contract_endpoint(request)
        return httpx.Response(404, json={"title": "Not Found"})

    @staticmethod
    def _contract_endpoint(request: httpx.Request) -> httpx.Response:
        """What a configured endpoint speaking the rtssync contract answers."""
        parts = request.url.path.split("/")
        if request.method == "PUT" and parts[-1] == "noa":
            changed = replace(live(parts[-2], "Noted"), etag='"v2"')
            changed = replace(changed, notice_of_assignment=json.loads(request.content)["text"])
            return httpx.Response(200, json=wire.subsidiary_to_json(changed))
        body = wire.subsidiary_to_json(live(parts[-1], f"Detail {parts[-1]}"))
        return httpx.Response(200, json=body, headers={"ETag": '"v1"'})

    def _token(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("client_secret") != self.client_secret:
            detail = f"bad secret {body.get('client_secret')}"  # a careless server echoes
            return httpx.Response(401, json={"title": "Unauthorized", "detail": detail})
        return httpx.Response(
            200, json={"access_token": self.token, "expires_in": 3600, "token_type": "Bearer"}
        )

    @staticmethod
    def _search(body: dict[str, Any]) -> httpx.Response:
        if not body.get("status") or body.get("pageSize", 0) <= 0:
            return httpx.Response(400, json={"title": "At least one filter is required"})
        start = body["page"] * body["pageSize"]
        items = ENTITIES[start : start + body["pageSize"]]
        page = {"page": body["page"], "pageSize": body["pageSize"], "total": len(ENTITIES)}
        return httpx.Response(200, json={**page, "items": items})

    def sent_to(self, url: str) -> list[httpx.Request]:
        return [r for r in self.requests if str(r.url) == url]


@pytest.fixture
def alvys() -> FakeAlvys:
    return FakeAlvys()


def backend_for(alvys: FakeAlvys, **options: str) -> AlvysBackend:
    return AlvysBackend(
        ClientCredentials("alvys-client", Secret(alvys.client_secret)),
        FAST,
        paths=paths_from_options(options),
        transport=httpx.MockTransport(alvys.handle),
    )


@pytest.fixture
def backend(alvys: FakeAlvys) -> Iterator[AlvysBackend]:
    with backend_for(alvys, subsidiary_path=SUBSIDIARY_PATH) as configured:
        yield configured


def test_the_token_request_is_the_documented_one(alvys: FakeAlvys, backend: AlvysBackend) -> None:
    backend.discover_subsidiaries()
    (token_request,) = alvys.sent_to(ALVYS_TOKEN_URL)
    assert token_request.method == "POST"
    assert token_request.headers["content-type"] == "application/json"
    assert json.loads(token_request.content) == {
        "client_id": "alvys-client",
        "client_secret": "alvys-secret",
        "audience": "https://api.alvys.com/public/",
        "grant_type": "client_credentials",
    }
    assert ALVYS_AUDIENCE == "https://api.alvys.com/public/"


def test_discovery_pages_the_carrier_search_and_keeps_only_subsidiaries(
    alvys: FakeAlvys, backend: AlvysBackend
) -> None:
    found = backend.discover_subsidiaries()
    assert [(s.tms_id, s.fields, s.status) for s in found] == [
        ("s-1", SubsidiaryFields("Alpha Freight LLC", "0100001", "02000001"), "Active"),
        ("s-2", SubsidiaryFields("Beta Haul Inc", "0100002", "02000002"), "Pending"),
        ("s-3", SubsidiaryFields("Gamma Lines", "0100003", "02000003"), "Packet Completed"),
    ]
    bodies = sorted(
        (json.loads(r.content) for r in alvys.sent_to(SEARCH_URL)), key=lambda b: b["page"]
    )
    assert [b["page"] for b in bodies] == [0, 1, 2]  # ceil(5 / 2) searches
    assert {b["pageSize"] for b in bodies} == {2}
    assert all(b["status"] == list(DEFAULT_CARRIER_STATUSES) for b in bodies)
    assert all(
        r.headers["authorization"] == "Bearer alvys-token-1" for r in alvys.sent_to(SEARCH_URL)
    )
    assert len(alvys.sent_to(ALVYS_TOKEN_URL)) == 1


def test_listing_reads_each_subsidiary_from_the_configured_path(
    alvys: FakeAlvys, backend: AlvysBackend
) -> None:
    listed = backend.list_subsidiaries()
    assert [s.tms_id for s in listed] == ["s-1", "s-2", "s-3"]
    assert listed[0] == live("s-1", "Detail s-1")
    paths = sorted(r.url.path for r in alvys.requests if r.method == "GET")
    assert paths == [f"/api/p/v1/rtssync/subsidiaries/s-{n}" for n in (1, 2, 3)]


@pytest.mark.parametrize(
    ("call", "option"),
    [
        (lambda b: b.list_subsidiaries(), "subsidiary_path"),
        (lambda b: b.get_subsidiary("s-1"), "subsidiary_path"),
        (lambda b: b.create_subsidiary(SubsidiaryFields("a", "1", "2"), idempotency_key="k"),
         "create_path"),
        (lambda b: b.set_notice_of_assignment("s-1", "NOTICE", if_match='"v1"'), "noa_path"),
        (lambda b: b.remove_rts_ftp("s-1", if_match='"v1"'), "rts_ftp_path"),
    ],
)  # fmt: skip
def test_undocumented_endpoints_must_be_configured(
    alvys: FakeAlvys, call: Any, option: str
) -> None:
    with backend_for(alvys) as unconfigured, pytest.raises(RtssyncError) as refused:
        call(unconfigured)
    message = str(refused.value)
    assert "Alvys does not publish" in message
    assert f"tms.options.{option}" in message
    assert alvys.requests == []  # refused before anything was sent


def test_configured_write_paths_speak_the_contract(alvys: FakeAlvys) -> None:
    noa_path = "/api/p/v1/rtssync/subsidiaries/{id}/noa"
    backend = backend_for(alvys, noa_path=noa_path)
    with backend:
        changed = backend.set_notice_of_assignment("s-1", "NOTICE v2", if_match='"v1"')
    assert (changed.tms_id, changed.notice_of_assignment, changed.etag) == (
        "s-1",
        "NOTICE v2",
        '"v2"',
    )
    (write,) = [r for r in alvys.requests if r.method == "PUT"]
    assert write.url.path == "/api/p/v1/rtssync/subsidiaries/s-1/noa"
    assert write.headers["if-match"] == '"v1"'
    assert json.loads(write.content) == {"text": "NOTICE v2"}


def test_refused_client_credentials_never_show_the_secret(alvys: FakeAlvys) -> None:
    alvys.client_secret = "the-real-one"
    backend = AlvysBackend(
        ClientCredentials("alvys-client", Secret(CANARY_PASSWORD)),
        FAST,
        transport=httpx.MockTransport(alvys.handle),
    )
    with backend, pytest.raises(TmsError) as refused:
        backend.discover_subsidiaries()
    assert "RTSSYNC_TMS_CLIENT_SECRET" in str(refused.value)
    assert CANARY_PASSWORD not in str(refused.value)


def test_from_settings_uses_alvys_defaults_and_the_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RTSSYNC_TMS_CLIENT_ID", "id")
    monkeypatch.setenv("RTSSYNC_TMS_CLIENT_SECRET", "secret")
    options = {"carrier_statuses": "Active, Pending", "noa_path": "/x/{id}", "page_size": "50"}
    tms = TmsSettings(kind=TmsKind.ALVYS, url="https://integrations.alvys.com", options=options)
    settings = Settings(root=tmp_path, source=tmp_path / "rtssync.yaml", tms=tms)
    with AlvysBackend.from_settings(settings) as backend:
        assert backend.carrier_statuses == ("Active", "Pending")
        assert backend.paths.token_url == ALVYS_TOKEN_URL
        assert backend.paths.notice_of_assignment == "/x/{id}"
        assert backend.paths.rts_ftp is None
        assert backend.options.page_size == 50
