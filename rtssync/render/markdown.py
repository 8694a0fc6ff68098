"""Markdown for pull-request comments: summary first, details after, always under 65,536 chars.

Everything that came from a file or the TMS is untrusted here: a subsidiary named
``|<script>`` or ``[click](https://evil)`` or ``@org/team`` must render as those characters,
not as a table cell break, HTML, a link or a mention. :func:`escape` turns every character
Markdown or HTML could read as syntax into a numeric character reference. The NOA line diff goes
in a fenced ``diff`` block whose fence is longer than any backtick run in the diff, so no line of
the NOA can close it; inside a fence nothing else is interpreted.

GitHub refuses comments over 65,536 characters, so the comment is built from whole blocks and
cut between blocks with a notice, never inside a table row or a fence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from rtssync.diff import PlainValue
from rtssync.plan import ChangeKind, Plan, PlanChange
from rtssync.render.text import KIND_LABELS

MAX_COMMENT_CHARS = 65_536
_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>&\"'~:@=$^%/;")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")


def escape(text: str) -> str:
    """``text`` safe anywhere inline (tables included): syntax characters become ``&#NN;``.

    Line breaks become ``<br>`` (a table row cannot span lines); other control characters are
    dropped, since no reviewer needs them and some terminals or viewers misbehave on them.
    """
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    escaped = "".join(f"&#{ord(ch)};" if ch in _SPECIAL else ch for ch in text)
    return escaped.replace("\n", "<br>")


def value(raw: PlainValue) -> str:
    if raw is None:
        return "*null*"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return escape(str(raw))


def fence_for(lines: Iterable[str]) -> str:
    """A backtick fence longer than the longest backtick run in ``lines`` (at least 3)."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _summary_table(plan: Plan) -> list[str]:
    rows = ["| change | count |", "|---|---:|"]
    rows += [f"| {escape(KIND_LABELS[ChangeKind(k)])} | {n} |" for k, n in plan.counts().items()]
    return ["\n".join(rows) + "\n"]


def _changes_table(plan: Plan) -> list[str]:
    blocks = ["| subsidiary | change | summary |\n|---|---|---|\n"]
    for change in plan.changes:
        marker = " ⚠️" if change.warnings else ""
        blocks.append(
            f"| {escape(change.key)} | {escape(KIND_LABELS[change.kind])}{marker} | "
            f"{escape(change.summary)} |\n"
        )
    return blocks


def _values(change: PlanChange) -> list[str]:
    before: Mapping[str, PlainValue] = change.before or {}
    after: Mapping[str, PlainValue] = change.after or {}
    lines = []
    for name in list(after) + [k for k in before if k not in after]:
        if name in before and name in after:
            lines.append(f"  - {escape(name)}: {value(before[name])} → {value(after[name])}")
        else:
            shown = after[name] if name in after else before[name]
            lines.append(f"  - {escape(name)}: {value(shown)}")
    lines += [f"  - {escape(name)}: *{state.value}*" for name, state in change.secrets.items()]
    return lines


def _noa_details(change: PlanChange, *, with_diff: bool) -> list[str]:
    if not change.noa_diff:
        return []
    if not with_diff:
        return [f"  - Notice of Assignment diff: {len(change.noa_diff)} lines, too long for a "
                "comment; run `rtssync plan` to see it"]
    fence = fence_for(change.noa_diff)
    body = "\n".join(change.noa_diff)
    return [
        "",
        "<details><summary>Notice of Assignment (line diff)</summary>",
        "",
        f"{fence}diff\n{body}\n{fence}",
        "",
        "</details>",
        "",
    ]


def _change_block(change: PlanChange, *, with_diff: bool = True) -> str:
    lines = [f"- **{escape(KIND_LABELS[change.kind])}** ({escape(change.key)}): "
             f"{escape(change.summary)}"]
    if change.source:
        lines.append(f"  - file: {escape(change.source)}")
    lines += [f"  - ⚠️ **{escape(warning)}**" for warning in change.warnings]
    lines += _values(change)
    lines += _noa_details(change, with_diff=with_diff)
    return "\n".join(lines) + "\n"


def _cut_notice(left_out: int) -> str:
    return (
        f"\n> **This plan was cut to fit a pull-request comment**: {left_out} more "
        "section(s) not shown. Run `rtssync plan` (or see the CI log) for all of it.\n"
    )


def _fit(head: list[str], details: list[PlanChange], limit: int) -> str:
    """Whole blocks while they fit; then a notice of how much was left out."""
    blocks = head + ["\n### Details\n\n"] + [_change_block(c) for c in details]
    out: list[str] = []
    used = 0
    reserve = len(_cut_notice(len(blocks)))
    for index, block in enumerate(blocks):
        if index >= len(head) + 1 and used + len(block) + reserve > limit:
            smaller = _change_block(details[index - len(head) - 1], with_diff=False)
            if used + len(smaller) + reserve <= limit:
                out.append(smaller)
                used += len(smaller)
                continue
        if used + len(block) + reserve > limit:
            return "".join(out) + _cut_notice(len(blocks) - index)
        out.append(block)
        used += len(block)
    return "".join(out)


class MarkdownRenderer:
    """A pull-request comment: title, counts by kind, one row per change, then details."""

    name = "markdown"

    def __init__(self, limit: int = MAX_COMMENT_CHARS) -> None:
        self.limit = limit

    def render(self, plan: Plan, *, color: bool = False) -> str:
        if not plan.changes:
            return "### rtssync plan: no changes\n\nThe TMS matches git.\n"
        title = (f"### rtssync plan: {len(plan.actionable)} change(s)\n\n" if plan.has_changes
                 else "### rtssync plan: no changes\n\n")
        commit = f"From commit {escape(plan.commit)}.\n\n" if plan.commit else ""
        head = [title + commit, *_summary_table(plan), "\n", *_changes_table(plan)]
        return _fit(head, list(plan.changes), self.limit)
