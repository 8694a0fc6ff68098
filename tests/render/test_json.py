"""JSON: the plan document of schemas/plan.schema.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rtssync.plan import build_plan
from rtssync.render import get_renderer
from tests.plan_records import ALLOWED, ROOT
from tests.render.plans import every_kind_plan, hostile_plan

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


@pytest.mark.parametrize("plan_factory", [every_kind_plan, hostile_plan])
def test_json_follows_the_schema(plan_factory: Any) -> None:
    document = json.loads(get_renderer("json").render(plan_factory()))
    jsonschema.Draft202012Validator(schema()).validate(document)


def test_an_empty_plan_follows_the_schema_too() -> None:
    plan = build_plan({}, [], root=ROOT, allowed_hosts=ALLOWED)
    jsonschema.Draft202012Validator(schema()).validate(json.loads(get_renderer("json").render(plan)))
