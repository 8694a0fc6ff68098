"""Rendering ``rtssync verify`` results: a table for people, JSON for scripts.

The table is drawn with rich when stdout is a terminal (colour unless NO_COLOR) and as plain,
aligned text otherwise, so CI logs and pipes get something grep and diff can read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from rtssync.verify.runner import SubsidiaryCheck

HEADERS = ("SUBSIDIARY", "PROTOCOL", "HOST", "RESULT", "TIME")


def render_json(checks: Sequence[SubsidiaryCheck]) -> str:
    """``{"ok": bool, "subsidiaries": [...]}``; every row has key and status."""
    rows: list[dict[str, Any]] = []
    for check in checks:
        row: dict[str, Any] = {"key": check.key, "status": status(check)}
        if check.result is not None:
            row.update(check.result.to_json())
        else:
            row["reason"] = check.skipped
        rows.append(row)
    return json.dumps({"ok": all(c.ok for c in checks), "subsidiaries": rows}, indent=2)


def render_plain(checks: Sequence[SubsidiaryCheck]) -> str:
    """Aligned columns, then one line per failure and warning, then a summary."""
    rows = [HEADERS, *(_cells(check) for check in checks)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    details = notes(checks)
    if details:
        lines += ["", *details]
    return "\n".join([*lines, "", summary(checks)])


def print_table(checks: Sequence[SubsidiaryCheck], stream: TextIO, *, color: bool) -> None:
    """The rich table, the notes and the summary, on a terminal."""
    # NO_COLOR: no escape sequences at all (bold included), which is what people setting it want.
    console = Console(
        file=stream, color_system="auto" if color else None, highlight=False, soft_wrap=False
    )
    table = Table(*HEADERS, box=None, pad_edge=False, header_style="bold")
    for check in checks:
        cells = list(_cells(check))
        style = {"ok": "green", "FAILED": "bold red", "skipped": "yellow"}[cells[3]]
        cells[3] = f"[{style}]{cells[3]}[/{style}]"
        table.add_row(*cells)
    console.print(table)
    details = notes(checks)
    if details:
        console.print()
        for line in details:
            console.print(line, markup=False)
    console.print()
    console.print(summary(checks), markup=False)


def notes(checks: Sequence[SubsidiaryCheck]) -> list[str]:
    """Why each failure failed and every warning, prefixed by the subsidiary's key."""
    lines: list[str] = []
    for check in checks:
        if check.result is None:
            continue
        if not check.result.ok:
            lines.append(f"{check.key}: {check.result.reason}")
        lines += [f"{check.key}: warning: {warning}" for warning in check.result.warnings]
    return lines


def summary(checks: Sequence[SubsidiaryCheck]) -> str:
    checked = [c for c in checks if c.result is not None]
    passed = sum(1 for c in checked if c.ok)
    skipped = len(checks) - len(checked)
    text = f"{passed} of {len(checked)} logins verified"
    return text + (f" ({skipped} skipped: no RTS factoring)" if skipped else "")


def status(check: SubsidiaryCheck) -> str:
    if check.result is None:
        return "skipped"
    return "ok" if check.result.ok else "failed"


def _cells(check: SubsidiaryCheck) -> tuple[str, str, str, str, str]:
    result = check.result
    if result is None:
        return (check.key, "-", "-", "skipped", "-")
    host = f"[{result.host}]" if ":" in result.host else result.host
    return (
        check.key,
        str(result.protocol),
        f"{host}:{result.port}",
        "ok" if result.ok else "FAILED",
        f"{result.seconds:.2f} s",
    )
