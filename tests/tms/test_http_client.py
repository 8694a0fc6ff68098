"""ApiClient, the request layer under the http backend: attempts, retries, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from rtssync.errors import TmsError
from rtssync.model import Secret
from rtssync.tms.faults import Fault
from rtssync.tms.http_client import (
    ApiClient,
    ClientCredentials,
    HttpOptions,
    _retry_after_seconds,
)

from .server_fixture import RunningServer, tms_server

__all__ = ["tms_server"]  # the fixture, imported so pytest finds it here

QUICK = HttpOptions(rate_limit=1000.0, rate_burst=100.0, backoff_initial=0.01, max_attempts=3)
SEARCH = "/api/v1/subsidiaries/search"


def client_for(server: RunningServer, options: HttpOptions = QUICK) -> ApiClient:
    credentials = ClientCredentials(server.client_id, Secret(server.client_secret))
    return ApiClient(server.url, credentials, options)


def test_a_call_through_faults_reports_how_many_attempts_it_took(
    tms_server: RunningServer,
) -> None:
    api = client_for(tms_server)
    api.call("POST", SEARCH, json={"page": 0, "pageSize": 1}, what="warm up")
    tms_server.state.faults.inject_next(Fault.ERROR_503, Fault.DROP_BEFORE)
    result = api.call("POST", SEARCH, json={"page": 0, "pageSize": 1}, what="search")
    api.close()
    assert (result.response.status_code, result.attempts) == (200, 3)


def test_when_every_attempt_fails_the_last_problem_is_the_error(
    tms_server: RunningServer,
) -> None:
    api = client_for(tms_server)
    api.call("POST", SEARCH, json={"page": 0, "pageSize": 1}, what="warm up")
    tms_server.state.faults.inject_next(Fault.ERROR_503, Fault.ERROR_500, Fault.ERROR_429)
    with pytest.raises(TmsError, match=r"search: HTTP 429 Too Many Requests"):
        api.call("POST", SEARCH, json={"page": 0, "pageSize": 1}, what="search")
    api.close()
    assert tms_server.request_count("POST", SEARCH) == 4


def test_a_non_retryable_answer_comes_back_at_once(tms_server: RunningServer) -> None:
    api = client_for(tms_server)
    result = api.call("GET", "/api/v1/subsidiaries/nope", what="read")
    api.close()
    assert (result.response.status_code, result.attempts) == (404, 1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, 0.0), ("", 0.0), ("7", 7.0), ("soon", 0.0), (" 2 ", 2.0),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)  # fmt: skip
def test_retry_after_is_read_as_seconds_or_a_date(header: str | None, expected: float) -> None:
    assert _retry_after_seconds(header) == expected


def test_a_retry_after_date_in_the_future_is_the_time_until_then() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 28 <= _retry_after_seconds(later) <= 30
