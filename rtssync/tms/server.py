"""The reference TMS server: the contract of schemas/tms-api.yaml over the SQLite store.

``rtssync tms serve`` runs it; tests run it on loopback (tests/tms/server_fixture.py) so the
http backend is tested against a real server, not a mock. It enforces everything a careful real
TMS would: expiring tokens, a per-token rate limit, ETag/If-Match on every update (428 missing,
412 stale), idempotency keys on creates, a body size limit, and problem documents that never
echo a request body. Faults (latency, 500/503/429, dropped connections) can be switched on.

Store calls run on the event loop's thread: the store is a single SQLite connection behind a
lock, so threads would add nothing but contention, and a handler with no ``await`` between its
idempotency check and its create cannot race another request.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rtssync.errors import ConflictError, NotFoundError, RtssyncError, TmsError
from rtssync.model import LiveSubsidiary, Secret, SubsidiaryFields
from rtssync.tms import wire
from rtssync.tms.factory import CLIENT_ID_ENV, CLIENT_SECRET_ENV
from rtssync.tms.faults import FaultConfig, FaultInjector
from rtssync.tms.local import LocalBackend
from rtssync.tms.openapi import body_errors
from rtssync.tms.problems import ProblemError, problem_response, response_for
from rtssync.tms.server_auth import PerTokenRateLimit, TokenIssuer
from rtssync.tms.server_middleware import AccessLog, BodyLimit, FaultInjection

IDEMPOTENCY_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How the reference server behaves. ``rate_burst`` defaults to one second's worth."""

    client_id: str
    client_secret: Secret
    audience: str | None = None
    token_ttl: float = 3600.0
    rate_limit: float = 10.0
    rate_burst: float | None = None
    max_body_bytes: int = 256 * 1024
    faults: FaultConfig = field(default_factory=FaultConfig)
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> ServerConfig:
        """Client id and secret from RTSSYNC_TMS_CLIENT_ID / _SECRET; the server refuses to
        start without them rather than accept anyone."""
        env = os.environ if environ is None else environ
        client_id = env.get(CLIENT_ID_ENV, "").strip()
        client_secret = env.get(CLIENT_SECRET_ENV, "")
        if not client_id or not client_secret:
            raise RtssyncError(
                f"the TMS server needs {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} set in the "
                "environment: they are the one client it accepts"
            )
        return cls(client_id=client_id, client_secret=Secret(client_secret), **options)


@dataclass(frozen=True, slots=True)
class _Replay:
    """A create's first response, kept so the same Idempotency-Key gets the same answer."""

    fingerprint: str
    body: bytes
    headers: dict[str, str]


class ServerState:
    """Everything the handlers share; reachable as ``app.state.tms``."""

    def __init__(self, store: LocalBackend, config: ServerConfig) -> None:
        self.store = store
        self.config = config
        self.tokens = TokenIssuer(
            config.client_id,
            config.client_secret,
            ttl=config.token_ttl,
            audience=config.audience,
            clock=config.clock,
        )
        burst = config.rate_burst if config.rate_burst is not None else config.rate_limit
        self.rate_limit = PerTokenRateLimit(config.rate_limit, max(1.0, burst), config.clock)
        self.faults = FaultInjector(config.faults)
        self.request_counts: Counter[str] = Counter()
        self.replays: OrderedDict[str, _Replay] = OrderedDict()

    def remember(self, key: str, replay: _Replay) -> None:
        self.replays[key] = replay
        while len(self.replays) > IDEMPOTENCY_CACHE_SIZE:
            self.replays.popitem(last=False)


# -- request helpers ----------------------------------------------------------------------------


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.tms
    return state


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes the limit (chunked bodies included)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProblemError(413, f"the request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> None:
    raise ValueError("non-standard JSON constant")


async def read_json(request: Request, schema: str) -> dict[str, Any]:
    """The JSON body, checked against a component schema of the contract (400 with value-free
    messages if it does not match)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ProblemError(415, "send the body as application/json")
    raw = await _read_body(request, _state(request).config.max_body_bytes)
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProblemError(400, "the body is not valid UTF-8 JSON") from None
    errors = body_errors(schema, body)
    if errors:
        raise ProblemError(400, "the body does not match the contract", errors=errors)
    assert isinstance(body, dict)  # every request schema is an object
    return body


def subsidiary_response(live: LiveSubsidiary, status: int = 200) -> JSONResponse:
    return JSONResponse(
        wire.subsidiary_to_json(live), status_code=status, headers={"ETag": live.etag}
    )


def _if_match(request: Request, current: LiveSubsidiary) -> str:
    """The ETag an update was planned against: 428 without If-Match. ``*`` and lists of tags
    follow RFC 9110 (weak tags never match)."""
    header = request.headers.get("if-match")
    if header is None or not header.strip():
        raise ProblemError(
            428, "updates need If-Match with the ETag the change was planned against"
        )
    tags = [tag.strip() for tag in header.split(",") if tag.strip()]
    if "*" in tags or current.etag in tags:
        return current.etag
    return tags[0]


# -- handlers -----------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]


def api(handler: Handler) -> Handler:
    """Bearer token, then the rate limit, then the handler, with store errors as problems."""

    async def guarded(request: Request) -> Response:
        state = _state(request)
        token = state.tokens.check(request.headers.get("authorization"))
        state.rate_limit.check(token)
        try:
            return await handler(request)
        except NotFoundError:
            raise ProblemError(404, "no subsidiary with this id") from None
        except ConflictError:
            raise _precondition_failed(request) from None
        except TmsError as error:
            raise _refused(error) from None

    return guarded


def _refused(error: TmsError) -> ProblemError:
    """A store error as a problem. SQLite failing (locked past its busy timeout, disk full) is
    a 503 worth retrying, told without the store's path; anything else the store refuses was
    well-formed (the schema passed) but conflicts with the subsidiary's state: 409."""
    if isinstance(error.__cause__, sqlite3.Error):
        return ProblemError(
            503, "the TMS store is unavailable; retry", headers={"Retry-After": "1"}
        )
    return ProblemError(409, str(error))


def _precondition_failed(request: Request) -> ProblemError:
    detail = "the subsidiary changed since the ETag in If-Match was read; read it again"
    try:
        current = _state(request).store.get_subsidiary(request.path_params["id"])
    except RtssyncError:
        return ProblemError(412, detail)
    return ProblemError(412, detail, headers={"ETag": current.etag})


async def token(request: Request) -> Response:
    body = await read_json(request, "TokenRequest")
    issued = _state(request).tokens.issue(body)
    payload = {
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "token_type": "Bearer",
    }
    return JSONResponse(payload, headers={"Cache-Control": "no-store"})


async def search(request: Request) -> Response:
    body = await read_json(request, "SearchRequest")
    page = _state(request).store.search(
        body["page"],
        body["pageSize"],
        name_contains=body.get("nameContains"),
        mc_number=body.get("mcNumber"),
        dot_number=body.get("dotNumber"),
        ids=body.get("ids"),
    )
    payload = {
        "page": body["page"],
        "pageSize": body["pageSize"],
        "total": page.total,
        "items": [wire.subsidiary_to_json(item) for item in page.items],
    }
    return JSONResponse(payload)


async def create(request: Request) -> Response:
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        raise ProblemError(400, "creates need an Idempotency-Key header")
    body = await read_json(request, "SubsidiaryCreate")
    state = _state(request)
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    replay = state.replays.get(key)
    if replay is not None:
        if replay.fingerprint != fingerprint:
            raise ProblemError(409, "this Idempotency-Key was used for a different create")
        return Response(replay.body, 201, replay.headers, media_type="application/json")
    outcome = state.store.create_or_replay(wire.fields_from_json(body), idempotency_key=key)
    response = subsidiary_response(outcome.subsidiary, 201)
    response.headers["Location"] = f"/api/v1/subsidiaries/{outcome.subsidiary.tms_id}"
    state.remember(key, _Replay(fingerprint, bytes(response.body), dict(response.headers)))
    return response


async def get_one(request: Request) -> Response:
    return subsidiary_response(_state(request).store.get_subsidiary(request.path_params["id"]))


def _current(request: Request) -> tuple[LiveSubsidiary, str]:
    """The subsidiary named in the path (404) and the If-Match it is to be changed under."""
    current = _state(request).store.get_subsidiary(request.path_params["id"])
    return current, _if_match(request, current)


async def patch_fields(request: Request) -> Response:
    current, etag = _current(request)
    body = await read_json(request, "SubsidiaryPatch")
    fields = wire.fields_from_json({**wire.fields_to_json(current.fields), **body})
    live = _state(request).store.update_subsidiary(current.tms_id, fields, if_match=etag)
    return subsidiary_response(live)


async def put_notice(request: Request) -> Response:
    current, etag = _current(request)
    body = await read_json(request, "NoticeOfAssignment")
    store = _state(request).store
    return subsidiary_response(
        store.set_notice_of_assignment(current.tms_id, body["text"], if_match=etag)
    )


async def put_invoicing(request: Request) -> Response:
    current, etag = _current(request)
    invoicing = wire.invoicing_from_json(await read_json(request, "Invoicing"))
    live = _state(request).store.set_invoicing(current.tms_id, invoicing, if_match=etag)
    return subsidiary_response(live)


async def put_rts_ftp(request: Request) -> Response:
    current, etag = _current(request)
    body = await read_json(request, "RtsFtpPut")
    credentials = body.get("credentials")
    live = _state(request).store.put_rts_ftp(
        current.tms_id,
        wire.ftp_settings_from_json(body),
        credentials=None if credentials is None else wire.credentials_from_json(credentials),
        credentials_revision=body.get("credentialsRevision"),
        if_match=etag,
    )
    return subsidiary_response(live)


async def delete_rts_ftp(request: Request) -> Response:
    current, etag = _current(request)
    return subsidiary_response(_state(request).store.remove_rts_ftp(current.tms_id, if_match=etag))


async def put_applied(request: Request) -> Response:
    current, etag = _current(request)
    applied = wire.applied_from_json(await read_json(request, "AppliedFrom"))
    live = _state(request).store.record_applied(current.tms_id, applied, if_match=etag)
    return subsidiary_response(live)


async def ui_edit(request: Request) -> Response:
    store = _state(request).store
    current = store.get_subsidiary(request.path_params["id"])
    body = await read_json(request, "UiEdit")
    field_names = {"name", "mcNumber", "dotNumber"}
    fields: SubsidiaryFields | None = None
    if field_names & body.keys():
        fields = wire.fields_from_json({**wire.fields_to_json(current.fields), **body})
    live = store.ui_edit(
        current.tms_id,
        fields=fields,
        notice_of_assignment=body.get("noticeOfAssignment"),
        invoicing=_optional(body, "invoicing", wire.invoicing_from_json),
        ftp_settings=_optional(body, "rtsFtp", wire.ftp_settings_from_json),
        credentials=_optional(body, "credentials", wire.credentials_from_json),
        remove_ftp=bool(body.get("removeRtsFtp", False)),
    )
    return subsidiary_response(live)


def _optional(body: Mapping[str, Any], key: str, read: Callable[[Any], Any]) -> Any:
    return None if body.get(key) is None else read(body[key])


async def ui_create(request: Request) -> Response:
    fields = wire.fields_from_json(await read_json(request, "SubsidiaryCreate"))
    return subsidiary_response(_state(request).store.ui_create(fields), 201)


async def ui_delete(request: Request) -> Response:
    _state(request).store.ui_delete(request.path_params["id"])
    return Response(status_code=204)


# -- the application ----------------------------------------------------------------------------

SUBSIDIARY = "/api/v1/subsidiaries/{id}"


def by_method(**handlers: Handler) -> Handler:
    """One endpoint for several methods of one path, so that a 405's Allow header lists every
    method the path has (one Route per method would list only its own)."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return dispatch


def _route(path: str, **handlers: Handler) -> Route:
    return Route(path, by_method(**handlers), methods=list(handlers))


ROUTES = [
    _route("/oauth/token", POST=token),
    _route("/api/v1/subsidiaries/search", POST=api(search)),
    _route("/api/v1/subsidiaries", POST=api(create)),
    _route(SUBSIDIARY, GET=api(get_one), PATCH=api(patch_fields)),
    _route(SUBSIDIARY + "/notice-of-assignment", PUT=api(put_notice)),
    _route(SUBSIDIARY + "/invoicing", PUT=api(put_invoicing)),
    _route(SUBSIDIARY + "/rts-ftp", PUT=api(put_rts_ftp), DELETE=api(delete_rts_ftp)),
    _route(SUBSIDIARY + "/applied-from", PUT=api(put_applied)),
    _route(SUBSIDIARY + "/ui-edit", PATCH=api(ui_edit)),
    _route("/api/v1/ui/subsidiaries", POST=api(ui_create)),
    _route("/api/v1/ui/subsidiaries/{id}", DELETE=api(ui_delete)),
]


async def _problem(request: Request, error: Exception) -> Response:
    return response_for(error) if isinstance(error, ProblemError) else problem_response(500)


async def _http_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    detail = "no such path" if error.status_code == 404 else None
    return problem_response(error.status_code, detail, headers=error.headers)


def create_app(store: LocalBackend, config: ServerConfig) -> Starlette:
    """The reference server as an ASGI app over ``store`` (which the caller keeps and closes).

    ``app.state.tms`` is its :class:`ServerState` (request counts, token issuer) for tests.
    """
    state = ServerState(store, config)
    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(AccessLog, counts=state.request_counts, routes=ROUTES),
            Middleware(BodyLimit, max_bytes=config.max_body_bytes),
            Middleware(FaultInjection, injector=state.faults),
        ],
        exception_handlers={ProblemError: _problem, HTTPException: _http_problem},
    )
    app.router.redirect_slashes = False
    app.state.tms = state
    return app
