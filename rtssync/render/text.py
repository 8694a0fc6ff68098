"""Text for terminals: one block per subsidiary, a symbol per change, colour only when asked.

The command asks for colour only on a terminal and without ``NO_COLOR``. Every value from the
files or the TMS goes through :func:`printable` first: a subsidiary name with terminal escape
sequences must not be able to repaint a reviewer's screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby

import click

from rtssync.diff import PlainValue
from rtssync.plan import ChangeKind, Plan, PlanChange

SYMBOLS: Mapping[ChangeKind, tuple[str, str]] = {
    ChangeKind.CREATE_SUBSIDIARY: ("+", "green"),
    ChangeKind.CONFIGURE_FTP: ("+", "green"),
    ChangeKind.REMOVE_FTP: ("-", "red"),
    ChangeKind.DRIFT: ("!", "magenta"),
    ChangeKind.UNMANAGED: ("?", "bright_black"),
}
DEFAULT_SYMBOL = ("~", "yellow")

KIND_LABELS: Mapping[ChangeKind, str] = {
    ChangeKind.CREATE_SUBSIDIARY: "create subsidiary",
    ChangeKind.UPDATE_FIELDS: "update fields",
    ChangeKind.SET_NOA: "set NOA",
    ChangeKind.SET_INVOICING: "set invoicing",
    ChangeKind.CONFIGURE_FTP: "configure RTS FTP",
    ChangeKind.UPDATE_FTP: "update FTP settings",
    ChangeKind.ROTATE_CREDENTIALS: "rotate credentials",
    ChangeKind.REMOVE_FTP: "remove RTS FTP",
    ChangeKind.DRIFT: "drift",
    ChangeKind.UNMANAGED: "unmanaged",
}


def printable(text: str) -> str:
    """``text`` with control characters (ESC, CR, ...) shown as escapes instead of obeyed."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def show_value(value: PlainValue) -> str:
    """Strings quoted (so blanks show), booleans and null as in the YAML files."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return printable(repr(value) if isinstance(value, str) else str(value))


def summary_line(plan: Plan) -> str:
    """One line a person (or a CI log) reads first: how many changes of each kind."""
    counts = plan.counts()
    if not counts:
        return "No changes. The TMS matches git."
    parts = [f"{n} {KIND_LABELS[ChangeKind(kind)]}" for kind, n in counts.items()]
    head = f"Plan: {len(plan.actionable)} change(s)" if plan.has_changes else "No changes"
    return f"{head} ({', '.join(parts)})."


class TextRenderer:
    """The human format: ``+`` create, ``~`` change, ``-`` remove, ``!`` drift, ``?`` unmanaged."""

    name = "text"

    def render(self, plan: Plan, *, color: bool = False) -> str:
        style = Painter(color)
        lines: list[str] = []
        for key, group in groupby(plan.changes, key=lambda c: c.key):
            changes = list(group)
            source = changes[0].source
            where = f"  ({printable(source)})" if source else ""
            lines.append(style(printable(key), bold=True) + where)
            for change in changes:
                lines.extend(_change_lines(change, style))
            lines.append("")
        lines.append(style(summary_line(plan), bold=True))
        return "\n".join(lines) + "\n"


class Painter:
    """click.style when colour is on, the plain text otherwise."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *, fg: str | None = None, bold: bool | None = None) -> str:
        return click.style(text, fg=fg, bold=bold) if self.color else text


def _change_lines(change: PlanChange, paint: Painter) -> list[str]:
    symbol, colour = SYMBOLS.get(change.kind, DEFAULT_SYMBOL)
    lines = [f"  {paint(symbol, fg=colour)} {printable(change.summary)}"]
    lines += _value_lines(change)
    for name, state in change.secrets.items():
        lines.append(f"      {name}: ({state.value})")
    for line in change.noa_diff:
        diff_colour = "green" if line.startswith("+") else "red" if line.startswith("-") else None
        lines.append("      " + paint(printable(line), fg=diff_colour))
    for warning in change.warnings:
        lines.append("    " + paint(f"WARNING: {printable(warning)}", fg="red", bold=True))
    if change.depends_on:
        lines.append(f"      after: {', '.join(printable(d) for d in change.depends_on)}")
    return lines


def _value_lines(change: PlanChange) -> list[str]:
    before, after = change.before or {}, change.after or {}
    lines = []
    for name in list(after) + [k for k in before if k not in after]:
        if name in before and name in after:
            lines.append(
                f"      {printable(name)}: {show_value(before[name])} -> {show_value(after[name])}"
            )
        elif name in after:
            lines.append(f"      {printable(name)}: {show_value(after[name])}")
        else:
            lines.append(f"      {printable(name)}: {show_value(before[name])}")
    return lines
