"""JSON: the plan document of ``schemas/plan.schema.json``; also a valid saved plan file."""

from __future__ import annotations

from rtssync.plan import Plan
from rtssync.planfile import dumps


class JsonRenderer:
    """Pretty JSON, UTF-8; the same document ``rtssync plan --out`` saves."""

    name = "json"

    def render(self, plan: Plan, *, color: bool = False) -> str:
        return dumps(plan)
