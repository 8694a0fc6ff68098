"""Every end-to-end test runs against the local backend and the reference server over HTTP,
and ends by grepping everything it produced for the canary password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import BACKENDS, World, canary_forms, make_world


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with make_world(tmp_path, str(request.param)) as made:
        yield made
        produced = made.produced_text()
        for form in canary_forms():
            assert form not in produced, "the canary password leaked"
