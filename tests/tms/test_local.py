"""The local (SQLite) backend: the shared contract, plus what only a file on disk can show."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rtssync.tms.base import TmsBackend
from rtssync.tms.local import LocalBackend

from .contract import TmsContract, TmsSide


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "tms.sqlite"


class TestLocalBackendContract(TmsContract):
    @pytest.fixture
    def backend(self, db_path: Path) -> Iterator[TmsBackend]:
        with LocalBackend(db_path) as backend:
            yield backend

    @pytest.fixture
    def tms_side(self, db_path: Path) -> Iterator[TmsSide]:
        """A second connection to the same file, as the Alvys UI is a second client."""
        with LocalBackend(db_path) as side:
            yield side
