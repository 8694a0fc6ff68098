"""The reliability suite's set-up: a size knob and a record of every figure it measured.

``--reliability-scale=N`` multiplies the trial counts (seeds, kills, fuzz examples); the default
(1) keeps the suite fast enough for CI. Each test records its figures with the ``figures``
fixture; at the end of the session they are written to ``tests/reliability/results/latest.json``
(and printed), so the README's "Reliability" section can quote one run.
"""

from __future__ import annotations

import fcntl
import json
import platform
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

RESULTS_FILE = Path(__file__).parent / "results" / "latest.json"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-scale", type=int, default=1,
        help="Multiply the reliability suite's trial counts (default 1: CI sizes).",
    )


class Figures:
    """Figures measured by the suite, one dict per test (test name -> figures)."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.by_test: dict[str, dict[str, Any]] = {}

    def record(self, test: str, values: dict[str, Any]) -> None:
        self.by_test.setdefault(test, {"scale": self.scale}).update(values)
        print(f"[reliability] {test}: {json.dumps(values, sort_keys=True)}")

    def write(self, path: Path) -> None:
        """Merge into ``path``: a run of some tests updates theirs and keeps the others'.
        Under pytest-xdist every worker merges its own, one at a time (a lock file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with (path.parent / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._merge_into(path)

    def _merge_into(self, path: Path) -> None:
        tests: dict[str, Any] = {}
        if path.is_file():
            try:
                tests = dict(json.loads(path.read_text()).get("tests", {}))
            except (ValueError, AttributeError):
                tests = {}
        tests.update(self.by_test)
        document = {
            "written_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "scale": self.scale,
            "python": platform.python_version(),
            "tests": dict(sorted(tests.items())),
        }
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


class Recorder:
    """What a test gets: ``figures(trials=30, detected=30)`` records under the test's name."""

    def __init__(self, figures: Figures, test: str) -> None:
        self._figures = figures
        self._test = test

    def __call__(self, **values: Any) -> None:
        self._figures.record(self._test, values)


@pytest.fixture(scope="session")
def scale(pytestconfig: pytest.Config) -> int:
    value = int(pytestconfig.getoption("--reliability-scale"))
    if value < 1:
        raise pytest.UsageError("--reliability-scale must be at least 1")
    return value


@pytest.fixture(scope="session")
def _all_figures(scale: int) -> Iterator[Figures]:
    figures = Figures(scale)
    yield figures
    if figures.by_test:
        figures.write(RESULTS_FILE)


@pytest.fixture
def figures(_all_figures: Figures, request: pytest.FixtureRequest) -> Recorder:
    """Record figures under the running test's name: ``figures(key=value, ...)``."""
    return Recorder(_all_figures, str(request.node.name))
