"""RFC 7807 problem documents, as the reference server writes them.

A problem says what went wrong in words chosen here, never by copying the request: a malformed
body may carry a password, so nothing from a body is ever echoed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus

from starlette.responses import JSONResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemError(Exception):
    """Raised by a handler to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[Mapping[str, str]] = (),
    ) -> None:
        super().__init__(detail or HTTPStatus(status).phrase)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = list(errors)


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[Mapping[str, str]] = (),
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, object] = {
        "type": f"urn:rtssync:problem:{phrase.lower().replace(' ', '-')}",
        "title": phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [dict(error) for error in errors]
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


def response_for(error: ProblemError) -> JSONResponse:
    return problem_response(error.status, error.detail, headers=error.headers, errors=error.errors)
