"""The reference server, spoken to as any HTTP client would: raw requests over loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from rtssync.model import Secret
from rtssync.tms.faults import Fault, FaultConfig
from rtssync.tms.openapi import contract
from tests.conftest import CANARY_PASSWORD

from .server_fixture import RunningServer, run_server, tms_server

__all__ = ["tms_server"]  # the fixture, imported so pytest finds it here

SUBSIDIARIES = "/api/v1/subsidiaries"
SEARCH = "/api/v1/subsidiaries/search"


def token_for(server: RunningServer, client: httpx.Client) -> str:
    response = client.post(
        "/oauth/token",
        json={
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "grant_type": "client_credentials",
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@contextmanager
def server_and_client(
    tmp_path: Path, *, authorized: bool = True, **config: Any
) -> Iterator[tuple[RunningServer, httpx.Client]]:
    """A server with the given ServerConfig options and a raw client for it."""
    with (
        run_server(tmp_path / "tms.sqlite", **config) as server,
        httpx.Client(base_url=server.url) as raw,
    ):
        if authorized:
            raw.headers["Authorization"] = "Bearer " + token_for(server, raw)
        yield server, raw


@pytest.fixture
def client(tms_server: RunningServer) -> Iterator[httpx.Client]:
    """A raw client, already holding a valid bearer token."""
    with httpx.Client(base_url=tms_server.url) as raw:
        raw.headers["Authorization"] = "Bearer " + token_for(tms_server, raw)
        yield raw


def create(client: httpx.Client, n: int = 1, key: str | None = None) -> httpx.Response:
    body = {"name": f"Sub {n}", "mcNumber": f"0{n}", "dotNumber": f"00{n}"}
    return client.post(SUBSIDIARIES, json=body, headers={"Idempotency-Key": key or f"key-{n}"})


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    return problem


# -- tokens ------------------------------------------------------------------------------------


def test_a_token_is_issued_for_the_configured_client(tms_server: RunningServer) -> None:
    with httpx.Client(base_url=tms_server.url) as raw:
        response = raw.post(
            "/oauth/token",
            json={
                "client_id": tms_server.client_id,
                "client_secret": tms_server.client_secret,
                "audience": "https://api.alvys.com/public/",
                "grant_type": "client_credentials",
            },
        )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert response.headers["cache-control"] == "no-store"


def test_a_wrong_client_secret_gets_no_token(tms_server: RunningServer) -> None:
    with httpx.Client(base_url=tms_server.url) as raw:
        response = raw.post(
            "/oauth/token",
            json={
                "client_id": tms_server.client_id,
                "client_secret": CANARY_PASSWORD,
                "grant_type": "client_credentials",
            },
        )
    assert_problem(response, 401)
    assert CANARY_PASSWORD not in response.text


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz"]
)
def test_the_api_needs_a_valid_bearer_token(
    tms_server: RunningServer, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=tms_server.url) as raw:
        response = raw.post(SEARCH, json={"page": 0, "pageSize": 10}, headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_expired_token_is_refused(tmp_path: Path) -> None:
    now = [1000.0]
    with server_and_client(tmp_path, token_ttl=60.0, clock=lambda: now[0]) as (_server, raw):
        assert raw.post(SEARCH, json={"page": 0, "pageSize": 1}).status_code == 200
        now[0] += 61
        response = raw.post(SEARCH, json={"page": 0, "pageSize": 1})
    problem = assert_problem(response, 401)
    assert "expired" in problem["detail"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


# -- rate limit --------------------------------------------------------------------------------


def test_over_the_rate_limit_the_answer_is_429_with_retry_after(tmp_path: Path) -> None:
    with server_and_client(tmp_path, rate_limit=5.0) as (_server, raw):
        responses = [raw.post(SEARCH, json={"page": 0, "pageSize": 1}) for _ in range(12)]
    statuses = [r.status_code for r in responses]
    assert statuses[:5] == [200] * 5  # the burst (one second's worth) passes
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    for response in limited:
        assert_problem(response, 429)
        assert int(response.headers["retry-after"]) >= 1


def test_each_token_has_its_own_rate_limit(tmp_path: Path) -> None:
    with server_and_client(tmp_path, rate_limit=2.0, authorized=False) as (server, raw):
        first, second = token_for(server, raw), token_for(server, raw)
        search = {"page": 0, "pageSize": 1}
        for _ in range(2):
            raw.post(SEARCH, json=search, headers={"Authorization": f"Bearer {first}"})
        limited = raw.post(SEARCH, json=search, headers={"Authorization": f"Bearer {first}"})
        other = raw.post(SEARCH, json=search, headers={"Authorization": f"Bearer {second}"})
    assert (limited.status_code, other.status_code) == (429, 200)


# -- versions and idempotency ------------------------------------------------------------------


def test_reads_and_writes_carry_the_etag(client: httpx.Client) -> None:
    created = create(client)
    assert created.status_code == 201
    etag = created.headers["etag"]
    assert created.json()["etag"] == etag
    assert created.headers["location"] == f"{SUBSIDIARIES}/{created.json()['id']}"
    read = client.get(created.headers["location"])
    assert read.headers["etag"] == etag


def test_an_update_without_if_match_is_428_and_changes_nothing(client: httpx.Client) -> None:
    created = create(client).json()
    url = f"{SUBSIDIARIES}/{created['id']}/notice-of-assignment"
    assert_problem(client.put(url, json={"text": "NOTICE"}), 428)
    assert client.get(f"{SUBSIDIARIES}/{created['id']}").json() == created


def test_an_update_with_a_stale_etag_is_412_with_the_current_etag(client: httpx.Client) -> None:
    created = create(client).json()
    url = f"{SUBSIDIARIES}/{created['id']}/notice-of-assignment"
    first = client.put(url, json={"text": "one"}, headers={"If-Match": created["etag"]})
    assert first.status_code == 200
    stale = client.put(url, json={"text": "two"}, headers={"If-Match": created["etag"]})
    assert_problem(stale, 412)
    assert stale.headers["etag"] == first.headers["etag"]
    assert client.get(f"{SUBSIDIARIES}/{created['id']}").json()["noticeOfAssignment"] == "one"


def test_if_match_star_and_lists_follow_the_http_rules(client: httpx.Client) -> None:
    created = create(client).json()
    url = f"{SUBSIDIARIES}/{created['id']}/notice-of-assignment"
    star = client.put(url, json={"text": "star"}, headers={"If-Match": "*"})
    assert star.status_code == 200
    listed = client.put(
        url, json={"text": "listed"}, headers={"If-Match": f'"x", {star.json()["etag"]}'}
    )
    assert listed.status_code == 200


def test_the_same_idempotency_key_gets_the_same_response(client: httpx.Client) -> None:
    first = create(client, 1, key="same")
    again = create(client, 1, key="same")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    listed = client.post(SEARCH, json={"page": 0, "pageSize": 10}).json()
    assert listed["total"] == 1


def test_reusing_an_idempotency_key_for_another_create_is_409(client: httpx.Client) -> None:
    create(client, 1, key="same")
    assert_problem(create(client, 2, key="same"), 409)


def test_a_create_needs_an_idempotency_key(client: httpx.Client) -> None:
    response = client.post(SUBSIDIARIES, json={"name": "A", "mcNumber": "1", "dotNumber": "2"})
    assert_problem(response, 400)


# -- paging ------------------------------------------------------------------------------------


def test_search_pages_from_zero_with_the_total(client: httpx.Client) -> None:
    ids = [create(client, n).json()["id"] for n in range(5)]
    pages = [client.post(SEARCH, json={"page": p, "pageSize": 2}).json() for p in range(3)]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [p["page"] for p in pages] == [0, 1, 2]
    assert [item["id"] for p in pages for item in p["items"]] == ids


# -- malformed requests ------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413(tmp_path: Path) -> None:
    with server_and_client(tmp_path, max_body_bytes=2048) as (_server, raw):
        big = {"page": 0, "pageSize": 1, "nameContains": "x" * 4096}
        declared = raw.post(SEARCH, json=big)
        chunked = raw.post(
            SEARCH,
            content=iter([json.dumps(big).encode()]),
            headers={"Content-Type": "application/json"},
        )
    assert_problem(declared, 413)
    assert_problem(chunked, 413)


def test_a_body_that_is_not_json_is_415_or_400(client: httpx.Client) -> None:
    as_text = client.post(SEARCH, content=b"page=0", headers={"Content-Type": "text/plain"})
    broken = client.post(SEARCH, content=b"{", headers={"Content-Type": "application/json"})
    assert_problem(as_text, 415)
    assert_problem(broken, 400)


def test_schema_errors_name_fields_not_values(client: httpx.Client) -> None:
    response = client.post(SEARCH, json={"page": -1, "pageSize": "ten", "extra": True})
    problem = assert_problem(response, 400)
    fields = {error["field"] for error in problem["errors"]}
    assert {"body", "body.page", "body.pageSize"} <= fields
    assert "ten" not in response.text
    assert "extra" not in response.text


def test_unknown_paths_and_methods_are_problems(client: httpx.Client) -> None:
    assert_problem(client.get("/api/v1/nothing"), 404)
    wrong_method = client.delete(SEARCH)
    assert_problem(wrong_method, 405)
    assert "POST" in wrong_method.headers["allow"]


# -- secrets -----------------------------------------------------------------------------------


def every_operation() -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in contract()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def canary_bodies() -> list[bytes]:
    """Bodies that carry the canary and are wrong in every way the server parses."""
    return [
        json.dumps({"credentials": {"username": "u", "password": CANARY_PASSWORD}}).encode(),
        json.dumps({"password": CANARY_PASSWORD, "port": CANARY_PASSWORD}).encode(),
        json.dumps({CANARY_PASSWORD: CANARY_PASSWORD}).encode(),
        json.dumps([CANARY_PASSWORD]).encode(),
        json.dumps(CANARY_PASSWORD).encode(),
        b'{"password": "' + CANARY_PASSWORD.encode("utf-8", "replace")[:10] + b"\xff\xfe",
        json.dumps(
            {
                "client_id": CANARY_PASSWORD,
                "client_secret": CANARY_PASSWORD,
                "grant_type": CANARY_PASSWORD,
            }
        ).encode(),
        json.dumps(
            {
                "protocol": "ftp",
                "host": "h",
                "port": 0,
                "directory": "/",
                "credentials": {"username": "u", "password": CANARY_PASSWORD},
            }
        ).encode(),
    ]


def test_the_canary_never_comes_back_from_any_endpoint(
    tms_server: RunningServer, client: httpx.Client
) -> None:
    sub = create(client).json()
    responses: list[httpx.Response] = []
    for method, path in every_operation():
        url = path.replace("{id}", sub["id"])
        for body in canary_bodies():
            for if_match in (
                None,
                sub["etag"],
                CANARY_PASSWORD.encode("ascii", "replace").decode(),
            ):
                headers = {"Content-Type": "application/json"}
                if if_match is not None:
                    headers["If-Match"] = if_match
                responses.append(client.request(method, url, content=body, headers=headers))
    assert responses
    assert all(r.status_code < 500 for r in responses)
    for response in responses:
        assert CANARY_PASSWORD not in response.text
        assert all(CANARY_PASSWORD not in value for value in response.headers.values())
    log = "\n".join(tms_server.log_lines)
    assert CANARY_PASSWORD not in log
    assert CANARY_PASSWORD.encode("ascii", "replace").decode() not in log


def test_the_password_is_never_returned_once_stored(
    tms_server: RunningServer, client: httpx.Client
) -> None:
    sub = create(client).json()
    body = {
        "protocol": "ftp", "host": "devftp.rtsfinancial.com", "port": 21, "directory": "/in",
        "credentials": {"username": "rts1", "password": CANARY_PASSWORD},
        "credentialsRevision": "cr1-x",
    }  # fmt: skip
    put = client.put(
        f"{SUBSIDIARIES}/{sub['id']}/rts-ftp", json=body, headers={"If-Match": sub["etag"]}
    )
    assert put.status_code == 200
    assert put.json()["rtsFtp"]["passwordSet"] is True
    reads = [
        put,
        client.get(f"{SUBSIDIARIES}/{sub['id']}"),
        client.post(SEARCH, json={"page": 0, "pageSize": 10}),
        client.put(
            f"{SUBSIDIARIES}/{sub['id']}/rts-ftp", json=body, headers={"If-Match": sub["etag"]}
        ),
    ]
    for response in reads:
        assert CANARY_PASSWORD not in response.text
        assert 'password"' not in response.text.replace("passwordSet", "")
    assert CANARY_PASSWORD not in "\n".join(tms_server.log_lines)


# -- logs --------------------------------------------------------------------------------------


def test_one_log_line_per_request_without_tokens(
    tms_server: RunningServer, client: httpx.Client
) -> None:
    token = client.headers["Authorization"].split()[1]
    sub = create(client).json()
    client.get(f"{SUBSIDIARIES}/{sub['id']}")
    client.get(f"{SUBSIDIARIES}/nope")
    time.sleep(0.2)  # a line is written once the response is sent, so it may trail it
    token_line, first, second, third = tms_server.log_lines
    assert token_line.startswith("POST /oauth/token 200 ")
    assert first.startswith("POST /api/v1/subsidiaries 201 ")
    assert second.startswith("GET /api/v1/subsidiaries/{id} 200 ")
    assert third.startswith("GET /api/v1/subsidiaries/{id} 404 ")
    assert first.endswith("ms")
    for line in tms_server.log_lines:
        assert token not in line
        assert "Bearer" not in line


# -- faults ------------------------------------------------------------------------------------


def test_error_faults_answer_500_503_or_429(tmp_path: Path) -> None:
    faults = FaultConfig(error_rate=1.0, seed=7)
    with server_and_client(tmp_path, faults=faults, authorized=False) as (_server, raw):
        statuses = {raw.post("/oauth/token", json={}).status_code for _ in range(30)}
    assert statuses == {500, 503, 429}


def test_a_dropped_connection_gets_no_response(tms_server: RunningServer) -> None:
    tms_server.state.faults.inject_next(Fault.DROP_BEFORE, Fault.DROP_AFTER)
    with httpx.Client(base_url=tms_server.url) as raw:
        for _ in range(2):
            with pytest.raises(httpx.TransportError):
                raw.post("/oauth/token", json={})
        assert raw.post("/oauth/token", json={}).status_code == 400  # back to normal
    assert tms_server.log_lines[:2] == [
        line for line in tms_server.log_lines[:2] if " dropped " in line
    ]


def test_a_write_whose_connection_dropped_after_it_was_handled_did_happen(
    tms_server: RunningServer, client: httpx.Client
) -> None:
    tms_server.state.faults.inject_next(Fault.DROP_AFTER)
    with pytest.raises(httpx.TransportError):
        create(client, 1, key="lost")
    assert client.post(SEARCH, json={"page": 0, "pageSize": 10}).json()["total"] == 1


# -- the command -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_refuses_to_start_without_client_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTSSYNC_TMS_")}
    result = subprocess.run(
        [sys.executable, "-m", "rtssync", "tms", "serve", "--db", str(tmp_path / "t.sqlite")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "RTSSYNC_TMS_CLIENT_ID" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_runs_the_contract_on_the_given_port(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "RTSSYNC_TMS_CLIENT_ID": "cli", "RTSSYNC_TMS_CLIENT_SECRET": "s3"}
    command = [sys.executable, "-m", "rtssync", "-C", str(tmp_path), "tms", "serve",
               "--db", "t.sqlite", "--port", str(port), "--rate-limit", "50"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        token = _token_when_up(f"http://127.0.0.1:{port}", "cli", "s3")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as raw:
            raw.headers["Authorization"] = f"Bearer {token}"
            assert create(raw).status_code == 201
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert (tmp_path / "t.sqlite").exists()
    assert "POST /api/v1/subsidiaries 201" in stderr
    assert "s3" not in stderr.replace("s3cr", "")


def _token_when_up(url: str, client_id: str, secret: str) -> str:
    deadline = time.monotonic() + 30
    body = {"client_id": client_id, "client_secret": secret, "grant_type": "client_credentials"}
    while True:
        try:
            response = httpx.post(url + "/oauth/token", json=body)
            token: str = response.json()["access_token"]
            return token
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serve_injects_the_faults_it_is_given(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "RTSSYNC_TMS_CLIENT_ID": "cli", "RTSSYNC_TMS_CLIENT_SECRET": "s3"}
    command = [sys.executable, "-m", "rtssync", "-C", str(tmp_path), "tms", "serve",
               "--port", str(port), "--fault-error-rate", "1", "--fault-seed", "3"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    try:
        statuses = {_status_when_up(f"http://127.0.0.1:{port}/oauth/token") for _ in range(20)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert statuses <= {500, 503, 429}
    assert (tmp_path / ".rtssync" / "tms.sqlite").exists()


def _status_when_up(url: str) -> int:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.post(url, json={}).status_code
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_latency_faults_delay_every_request(tmp_path: Path) -> None:
    with server_and_client(tmp_path, faults=FaultConfig(latency_ms=300), authorized=False) as (
        _server,
        raw,
    ):
        started = time.monotonic()
        raw.post("/oauth/token", json={})
        assert time.monotonic() - started >= 0.3


def test_an_idempotency_key_outlives_a_server_restart(tmp_path: Path) -> None:
    """The store keeps the keys, so a create retried against a restarted server is a replay."""
    ids = []
    for _ in range(2):
        with server_and_client(tmp_path) as (_server, raw):
            response = create(raw, 1, key="across-restarts")
            assert response.status_code == 201
            ids.append(response.json()["id"])
            total = raw.post(SEARCH, json={"page": 0, "pageSize": 10}).json()["total"]
    assert ids[0] == ids[1]
    assert total == 1


# -- test hooks: edits "made in the Alvys UI" ---------------------------------------------------


def configured_over_http(client: httpx.Client) -> dict[str, Any]:
    sub = create(client).json()
    body = {
        "protocol": "ftp", "host": "devftp.rtsfinancial.com", "port": 21, "directory": "/in",
        "credentials": {"username": "rts1", "password": "pw-1"}, "credentialsRevision": "cr1-a",
    }  # fmt: skip
    url = f"{SUBSIDIARIES}/{sub['id']}/rts-ftp"
    configured: dict[str, Any] = client.put(
        url, json=body, headers={"If-Match": sub["etag"]}
    ).json()
    return configured


def test_a_ui_edit_needs_no_if_match_and_makes_the_planned_etag_stale(
    client: httpx.Client,
) -> None:
    sub = configured_over_http(client)
    edit = client.patch(f"{SUBSIDIARIES}/{sub['id']}/ui-edit", json={"name": "Renamed in UI"})
    assert edit.status_code == 200
    assert edit.json()["name"] == "Renamed in UI"
    assert edit.json()["mcNumber"] == sub["mcNumber"]  # untouched parts stay
    planned = client.put(
        f"{SUBSIDIARIES}/{sub['id']}/notice-of-assignment",
        json={"text": "NOTICE"},
        headers={"If-Match": sub["etag"]},
    )
    assert_problem(planned, 412)


def test_credentials_typed_in_the_ui_clear_the_revision(
    tms_server: RunningServer, client: httpx.Client
) -> None:
    sub = configured_over_http(client)
    body = {"credentials": {"username": "rts1", "password": CANARY_PASSWORD}}
    edit = client.patch(f"{SUBSIDIARIES}/{sub['id']}/ui-edit", json=body)
    assert edit.status_code == 200
    ftp = edit.json()["rtsFtp"]
    assert (ftp["passwordSet"], ftp["credentialsRevision"]) == (True, None)
    assert CANARY_PASSWORD not in edit.text
    assert tms_server.store.password_matches(sub["id"], Secret(CANARY_PASSWORD))


def test_ui_create_and_delete_hooks(client: httpx.Client) -> None:
    made = client.post(
        "/api/v1/ui/subsidiaries", json={"name": "U", "mcNumber": "1", "dotNumber": "2"}
    )
    assert made.status_code == 201
    assert client.post(SEARCH, json={"page": 0, "pageSize": 5}).json()["total"] == 1
    assert client.delete(f"/api/v1/ui/subsidiaries/{made.json()['id']}").status_code == 204
    assert_problem(client.get(f"{SUBSIDIARIES}/{made.json()['id']}"), 404)
