"""The contract file (schemas/tms-api.yaml), loaded once, and request-body validation against it.

The reference server validates every body with the very schemas it publishes, so the file is the
single definition of what the contract accepts. Validation messages name the field and the rule
broken, never the value sent: a malformed body may well carry a password.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_URI = "urn:rtssync:tms-api"


@functools.cache
def contract() -> dict[str, Any]:
    """The parsed OpenAPI document."""
    text = resources.files("rtssync").joinpath("schemas/tms-api.yaml").read_text("utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    resource = Resource.from_contents(contract(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_URI, resource)
    schema = {"$ref": f"{_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry)


def body_errors(schema_name: str, body: Any) -> list[dict[str, str]]:
    """What is wrong with ``body`` against the named component schema, as value-free
    ``{field, message}`` pairs (empty when it is valid)."""
    errors = sorted(_validator(schema_name).iter_errors(body), key=lambda e: list(e.path))
    return [{"field": _field(error), "message": _message(error)} for error in errors[:20]]


def _field(error: ValidationError) -> str:
    # error.path holds only property names the schema defines (unknown keys are reported on
    # their parent) and array indexes, so it cannot carry a sent value.
    parts = ["body", *(f"[{p}]" if isinstance(p, int) else str(p) for p in error.path)]
    return ".".join(parts).replace(".[", "[")


def _message(error: ValidationError) -> str:
    rule, limit = str(error.validator), error.validator_value
    if rule == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in limit if name not in present]
        return "missing required " + ", ".join(repr(name) for name in missing)
    if rule == "additionalProperties":
        return "has properties the contract does not define"
    if rule == "type":
        return f"must be of type {limit}"
    if rule == "enum":
        return f"must be one of {limit}"
    if rule == "pattern":
        return "must not be blank"
    if rule in {"anyOf", "oneOf"}:
        return "matches none of the allowed shapes"
    if rule in {"minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"}:
        return f"breaks {rule} {limit}"
    if rule == "minProperties":
        return f"needs at least {limit} properties"
    return f"breaks rule {rule!r}"
