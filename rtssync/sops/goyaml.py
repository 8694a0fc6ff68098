"""YAML read the way sops (go-yaml v3) reads it, on top of PyYAML's fast C parser.

The MAC covers plain values as sops sees them, so plain scalars must resolve to the types Go's
YAML library gives them: ``yes``/``on`` stay strings, ``0777`` is octal, ``1_000`` is an int,
``1:20`` is a string. PyYAML's defaults (YAML 1.1) differ on exactly those, hence this loader.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader]
try:
    _BaseLoader = yaml.CSafeLoader  # type: ignore[assignment,unused-ignore]
except AttributeError:  # pragma: no cover - libyaml missing
    _BaseLoader = yaml.SafeLoader

_INT = re.compile(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)\Z")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)\Z")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)\Z")
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::?[0-9]{2})?))?)?\Z"
)


class GoYamlLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A C-accelerated safe loader with go-yaml v3's implicit types."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level registry


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """Go ``strconv.ParseInt(s, 0, 64)`` after dropping underscores: ``0777`` is octal."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        return sign * int(digits, 8)
    return sign * int(digits, 0)


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).replace("_", "")
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(text)


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> dt.datetime:
    """Timestamps are times in UTC unless they say otherwise; a bare date is midnight UTC."""
    value = yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:timestamp", _TIMESTAMP, list("0123456789"))
GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
GoYamlLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
GoYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def resolves_to_string(text: str) -> bool:
    """Whether go-yaml reads ``text``, written as a plain scalar, back as a string."""
    return not any(p.match(text) for p in (_BOOL, _INT, _FLOAT, _NULL, _TIMESTAMP))


def load(data: bytes | str) -> Any:
    """Parse one YAML document with go-yaml's scalar types."""
    return yaml.load(data, Loader=GoYamlLoader)  # noqa: S506 - GoYamlLoader is a SafeLoader
