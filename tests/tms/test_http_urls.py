"""A wrong ``tms.url`` is named as such, not mistaken for a missing subsidiary or left vague."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtssync.errors import NotFoundError, TmsError
from rtssync.model import Secret
from rtssync.tms.http import ClientCredentials, HttpBackend, HttpOptions
from tests.tms.server_fixture import run_server


def test_a_url_without_the_api_says_check_tms_url(tmp_path: Path) -> None:
    with run_server(tmp_path / "tms.sqlite") as server:
        credentials = ClientCredentials(server.client_id, Secret(server.client_secret))
        backend = HttpBackend(server.url + "/wrong", credentials, HttpOptions(max_attempts=1))
        with backend as tms, pytest.raises(TmsError) as raised:
            tms.list_subsidiaries()
    assert not isinstance(raised.value, NotFoundError)
    assert "check tms.url" in str(raised.value)
    assert "/wrong/" in str(raised.value)


def test_an_unreachable_tms_names_its_url(tmp_path: Path) -> None:
    credentials = ClientCredentials("id", Secret("secret"))
    options = HttpOptions(max_attempts=1, connect_timeout=1)
    backend = HttpBackend("http://127.0.0.1:9", credentials, options)
    with backend as tms, pytest.raises(TmsError) as raised:
        tms.list_subsidiaries()
    assert "http://127.0.0.1:9" in str(raised.value)
    assert "check tms.url" in str(raised.value)
