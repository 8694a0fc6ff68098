"""Field-level comparison of the desired and live records, and the NOA line diff.

Pure functions over the shared typed model: they say *what* differs, never what to do about it
(that is the plan's job), and they never see a credential's plaintext.
"""

from __future__ import annotations

import difflib
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from deepdiff import DeepDiff

PlainValue = str | int | float | bool | None


def plain(record: object) -> dict[str, PlainValue]:
    """A flat JSON-ready dict of a (flat) dataclass record, enums as their string values."""
    if not is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"not a dataclass record: {type(record).__name__}")
    # Not dataclasses.asdict: it deep-copies every value, and a plan of 1,000 subsidiaries
    # flattens four records each; a flat record's fields are read as they are.
    return {field.name: _plain_value(getattr(record, field.name)) for field in fields(record)}


def _plain_value(value: Any) -> PlainValue:
    if isinstance(value, Enum):
        return str(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"not a plain value: {type(value).__name__}")


def changed_keys(before: dict[str, PlainValue], after: dict[str, PlainValue]) -> list[str]:
    """The top-level keys whose values differ (deepdiff: type changes count, order kept)."""
    if _same(before, after):
        return []  # the common case in a plan; DeepDiff costs ~1 ms even for equal dicts
    difference = DeepDiff(before, after, ignore_order=False)
    affected = {str(key) for key in difference.affected_root_keys}
    if not affected:
        # No key in common (e.g. invoicing never set in the TMS: {}): DeepDiff reports the
        # root itself as changed and names no key, which read as "nothing to do".
        affected = set(before) | set(after)
    return [key for key in after if key in affected] + sorted(affected - set(after))


def _same(before: dict[str, PlainValue], after: dict[str, PlainValue]) -> bool:
    """Equal keys, values and types (1, 1.0 and True are == in Python but differ here)."""
    return before.keys() == after.keys() and all(
        type(value) is type(before[key]) and value == before[key] for key, value in after.items()
    )


def only_changed(
    before: dict[str, PlainValue], after: dict[str, PlainValue]
) -> tuple[dict[str, PlainValue], dict[str, PlainValue]]:
    """``before`` and ``after`` narrowed to the keys that changed, for a readable plan."""
    keys = changed_keys(before, after)
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def noa_line_diff(before: str | None, after: str) -> tuple[str, ...]:
    """A unified line diff of the Notice of Assignment, live -> desired.

    The NOA is legal text reviewed in pull requests; a line diff shows exactly which words RTS
    changed instead of two walls of text.
    """
    lines = difflib.unified_diff(
        (before or "").splitlines(),
        after.splitlines(),
        fromfile="live (TMS)",
        tofile="desired (git)",
        lineterm="",
        n=2,
    )
    return tuple(lines)
