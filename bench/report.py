"""Rows of figures, each a measurement against a baseline from the same run, and their output.

Every ratio is ``subject / baseline`` as measured in one invocation, so a slow or busy machine
moves both sides alike; the targets are stated next to the figures, never hidden in code.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: what was measured, against what, and whether the target holds."""

    measurement: str
    size: int
    value: float
    unit: str
    baseline: str
    baseline_value: float | None
    ratio: float | None
    target: str
    holds: bool | None
    """None: informational (no target on this row)."""
    note: str = ""
    baseline_unit: str = ""
    """When the baseline counts something else than the figure (default: the same unit)."""


def ratio(subject: float, baseline: float) -> float:
    """subject / baseline, guarded against a zero baseline (a run too quick to time)."""
    return subject / baseline if baseline > 0 else float("inf")


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g} {unit}".strip()


def _verdict(holds: bool | None) -> str:
    return "-" if holds is None else ("yes" if holds else "**NO**")


HEADER = ("measurement", "N", "figure", "baseline", "baseline figure", "ratio", "target", "holds")


def table(rows: Sequence[Row]) -> str:
    """A Markdown table (it reads as plain text in a terminal too)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        cells = (
            row.measurement, f"{row.size:,}", _figure(row.value, row.unit), row.baseline,
            _figure(row.baseline_value, row.baseline_unit or row.unit),
            "-" if row.ratio is None else f"{row.ratio:.2f}x",
            row.target, _verdict(row.holds),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def machine() -> dict[str, str]:
    """What the figures were measured on: they mean little without it."""
    return {
        "cpu": _cpu_model(),
        "cores": str(_cores()),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def markdown(rows: Sequence[Row], notes: Sequence[str], command: str) -> str:
    """latest.md: the table, the machine, how the figures were taken, and how to reproduce."""
    info = machine()
    parts = [
        "# rtssync benchmark\n",
        f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']} "
        f"({info['platform']}).\n",
        f"Command: `{command}`\n",
        table(rows),
        "Notes:\n",
        *(f"- {note}\n" for note in notes),
    ]
    return "\n".join(parts)


def write_results(out: Path, rows: Sequence[Row], notes: Sequence[str], command: str) -> None:
    """latest.md and latest.json side by side (the JSON for tools and trend tracking)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(markdown(rows, notes, command))
    document = {"machine": machine(), "command": command, "notes": list(notes),
                "rows": [asdict(row) for row in rows]}
    (out / "latest.json").write_text(json.dumps(document, indent=2) + "\n")
