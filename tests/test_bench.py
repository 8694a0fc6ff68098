"""The benchmark runs end to end at N=100 (``--quick``) and reports every row.

Not a timed test: the figures depend on the machine. It proves the one command works, writes
its results and profile, and prints each measurement, so a broken benchmark is caught in CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    "load+validate+decrypt vs sops (speed-up)",
    "load+validate+decrypt vs bare parse (cost, CPU time)",
    "plan over HTTP, 20 ms/request, keyless",
    "plan over HTTP, 20 ms/request, with keys",
    "plan HTTP requests (server-side count)",
    "plan, local TMS, child process: peak RSS",
    "plan, local TMS, child process: CPU time",
    "apply at 10 req/s, 20 ms/request",
    "apply failures and 429s",
)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("bench-results")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout, out


def test_quick_run_prints_every_row(quick_run: tuple[str, Path]) -> None:
    stdout, _ = quick_run
    for row in ROWS:
        assert f"| {row} |" in stdout


def test_quick_run_writes_the_table_and_json(quick_run: tuple[str, Path]) -> None:
    _, out = quick_run
    assert (out / "latest.md").read_text().count("\n| ") >= len(ROWS)
    document = json.loads((out / "latest.json").read_text())
    assert [row["measurement"] for row in document["rows"]] == list(ROWS)
    assert {row["size"] for row in document["rows"][:7]} == {100}


def test_quick_run_profiles_the_plan(quick_run: tuple[str, Path]) -> None:
    _, out = quick_run
    assert "plan_from" in (out / "plan-profile.txt").read_text()
    assert (out / "plan-profile.html").stat().st_size > 0
