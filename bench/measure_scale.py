"""Target 4: plan of N subsidiaries (local TMS) in a child process: time and peak memory.

Each size runs in a fresh process so that its peak memory is its own; the time is taken inside
the child, so interpreter start-up and imports are not counted against larger sizes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import Corpus
from bench.report import Row, ratio

TARGET_PEAK_MB = 300.0
TARGET_GROWTH = 12.0
"""10x the subsidiaries may take at most 12x the time: linear, with some slack."""


@dataclass(frozen=True, slots=True)
class ScaleRun:
    seconds: float
    cpu_seconds: float
    """Judged for linearity: wall time on a shared machine moves with everyone else's load."""
    peak_mb: float
    actionable: int


def measure_scale(corpus: Corpus, db: Path) -> ScaleRun:
    """Plan with the corpus's key (usernames decrypted) against the populated local TMS."""
    env = corpus.sops_env()
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale_child", str(corpus.root), str(db)],
        env=env, check=True, capture_output=True, text=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return ScaleRun(float(figures["seconds"]), float(figures["cpu_seconds"]),
                    float(figures["peak_mb"]),
                    int(figures["actionable"]))


def scale_rows(runs: Mapping[int, ScaleRun]) -> list[Row]:
    """Per size: peak memory against the budget, and time against the size ten times smaller."""
    rows = []
    for size, run in sorted(runs.items()):
        rows.append(Row("plan, local TMS, child process: peak RSS", size, run.peak_mb, "MB",
                        "300 MB budget", TARGET_PEAK_MB, ratio(run.peak_mb, TARGET_PEAK_MB),
                        f"< {TARGET_PEAK_MB:.0f} MB", run.peak_mb < TARGET_PEAK_MB,
                        f"ru_maxrss of the child; {run.actionable} change(s)"))
        smaller = runs.get(size // 10)
        growth = ratio(run.cpu_seconds, smaller.cpu_seconds) if smaller else None
        rows.append(Row("plan, local TMS, child process: CPU time", size, run.cpu_seconds, "s",
                        f"same at N={size // 10:,}" if smaller else "-",
                        smaller.cpu_seconds if smaller else None, growth,
                        f"<= {TARGET_GROWTH:.0f}x the N/10 run" if smaller else "-",
                        None if growth is None else growth <= TARGET_GROWTH,
                        f"wall {run.seconds:.3f} s"))
    return rows
