"""The JSON Schemas in ``rtssync/schemas`` applied to loaded documents, with human messages.

The schemas are the single definition of each file's shape: editors use them as you type (via the
``yaml-language-server`` comment) and ``validate`` uses them here. jsonschema's own messages are
written for programmers (``'x' is not of type 'string'``) and print values verbatim, so each error
is rewritten as "field: what is wrong; what to do", pointed at the offending value's line, and a
credential's value is never echoed.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import ValidationError

from rtssync.errors import Problem
from rtssync.load import LoadedDocument, PathKey, dotted
from rtssync.model import SourceLocation

SUBSIDIARY_SCHEMA = "subsidiary.schema.json"
SETTINGS_SCHEMA = "rtssync.schema.json"

SECRET_FIELDS = frozenset({"username", "password"})
"""Values under these keys are credentials: messages name the field, never the value."""

_RANGE_WORDS = {
    "minimum": "below the minimum",
    "maximum": "above the maximum",
    "exclusiveMinimum": "not above",
    "exclusiveMaximum": "not below",
}

_JSON_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping of fields",
    "array": "a list",
    "null": "null",
}


def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in the package (``rtssync/schemas/<name>``)."""
    text = resources.files("rtssync").joinpath("schemas", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = load_schema(name)
    validator_class = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


@functools.cache
def _fast_validator(name: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(load_schema(name))


def _passes_fast_check(name: str, instance: object) -> bool:
    """Whether jsonschema-rs finds ``instance`` valid: ~50x faster than jsonschema, which costs
    ~1 ms a file and was the largest part of loading 1,000 files. Only valid documents take
    this path; anything it rejects or cannot take (a non-finite float, a huge int) goes to
    jsonschema, whose errors the messages are made from."""
    try:
        return bool(_fast_validator(name).is_valid(instance))
    except (ValueError, TypeError, OverflowError):
        return False


def schema_problems(doc: LoadedDocument, schema_name: str, data: object = None) -> list[Problem]:
    """Every schema violation of ``doc`` as a Problem at the offending value's line (except
    where loading already reported a problem).

    ``data`` overrides ``doc.data`` (validate passes a copy with the NOA's line endings
    normalized, so the length limit applies to the text the TMS will get).
    """
    instance = doc.data if data is None else data
    if _passes_fast_check(schema_name, instance):
        return []
    errors = _validator(schema_name).iter_errors(instance)
    # A value YAML already reported (say an octal mc_number) needs no second, vaguer message.
    reported = {p.location for p in doc.problems}
    return _sorted(p for p in _problems(doc, errors) if p.location not in reported)


def _sorted(problems: Iterable[Problem]) -> list[Problem]:
    def order(problem: Problem) -> tuple[int, int, str]:
        where = problem.location
        return (where.line, where.column, problem.message) if where else (0, 0, problem.message)

    return sorted(problems, key=order)


def _problems(doc: LoadedDocument, errors: Iterable[ValidationError]) -> Iterable[Problem]:
    reported_values: set[PathKey] = set()
    reported_required: set[tuple[PathKey, tuple[object, ...]]] = set()
    for error in errors:
        path = tuple(error.absolute_path)
        if error.validator == "required":
            # jsonschema yields one error per missing field, each knowing the whole list.
            rule = (path, tuple(error.absolute_schema_path))
            if rule not in reported_required:
                reported_required.add(rule)
                yield from _missing_fields(doc, path, error)
        elif error.validator == "additionalProperties":
            yield from _unknown_fields(doc, path, error)
        elif path not in reported_values:
            # One message per value: "" breaks minLength and pattern, but one fix mends both.
            reported_values.add(path)
            yield Problem(doc.location_of(path), _value_message(path, error))


def _missing_fields(doc: LoadedDocument, path: PathKey,
                    error: ValidationError) -> Iterable[Problem]:
    """One Problem per missing field, at the line naming the mapping that lacks it."""
    instance = error.instance
    if not isinstance(instance, Mapping):
        return
    where = doc.key_location(path) if path else SourceLocation(doc.path, 1, 1)
    inside = f" in {dotted(path)}" if path else ""
    for missing in error.validator_value:
        if missing not in instance:
            hint = _description(error.schema, missing)
            yield Problem(where, f"missing field '{missing}'{inside}{hint}; add it")


def _unknown_fields(doc: LoadedDocument, path: PathKey,
                    error: ValidationError) -> Iterable[Problem]:
    instance = error.instance
    known = sorted(error.schema.get("properties", {}))
    if not isinstance(instance, Mapping):
        return
    inside = f" in {dotted(path)}" if path else ""
    for key in instance:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        advice = f"did you mean '{close[0]}'?" if close else "remove it"
        allowed = ", ".join(known)
        yield Problem(doc.key_location((*path, key)),
                      f"unknown field '{key}'{inside}: {advice} (allowed: {allowed})")


def _description(schema: Mapping[str, Any], field: str) -> str:
    described = schema.get("properties", {}).get(field, {}).get("description")
    return f" ({described})" if described else ""


def _value_message(path: PathKey, error: ValidationError) -> str:
    """"field: what is wrong; what to do" for one value-level schema error."""
    name = dotted(path) or "the file"
    value = error.instance
    secret = bool(path) and path[-1] in SECRET_FIELDS
    keyword = str(error.validator)
    expected = error.validator_value
    hint = error.schema.get("description", "") if path else ""  # the root's is a paragraph
    if keyword == "type":
        return f"{name}: must be {_expected_type(expected)}, not {_type_word(value)}" + (
            f" ({hint})" if hint else "")
    if keyword in ("enum", "const"):
        options = expected if isinstance(expected, list) else [expected]
        shown = "this value" if secret else _show(value)
        return f"{name}: {shown} is not allowed; use one of: {', '.join(map(str, options))}"
    if (keyword, expected) in (("minLength", 1), ("pattern", r"\S")):
        return f"{name}: must not be empty" + (f" ({hint})" if hint else "")
    if keyword == "maxLength" and isinstance(value, str):
        return f"{name}: is {len(value):,} characters long; at most {expected:,} are allowed"
    if keyword == "pattern":
        shown = "this value" if secret else _show(value)
        return f"{name}: {shown} is not valid" + (f" ({hint})" if hint else "")
    if keyword in _RANGE_WORDS:
        return f"{name}: {_show(value)} is {_RANGE_WORDS[keyword]} {expected}" + (
            f" ({hint})" if hint else "")
    if secret:
        return f"{name}: is not valid ({keyword})"
    return f"{name}: {error.message}"


def _expected_type(expected: object) -> str:
    types = expected if isinstance(expected, list) else [expected]
    words = [_JSON_TYPE_WORDS.get(str(t), str(t)) for t in types]
    text = " or ".join(words)
    return f"{text} (in quotes)" if types == ["string"] else text


def _type_word(value: object) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _show(value: object) -> str:
    """A value as a message shows it: short, so a pasted NOA does not flood the terminal."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
