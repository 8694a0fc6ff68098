"""The renderer registry: every format, plug-ins, and no secret in any of them."""

from __future__ import annotations

import pytest

from rtssync.errors import RtssyncError
from rtssync.plan import Plan
from rtssync.render import get_renderer, register, renderer_names
from tests.render.plans import every_kind_plan


def test_the_every_kind_plan_really_has_every_kind() -> None:
    kinds = set(every_kind_plan().counts())
    assert kinds == {"create_subsidiary", "update_fields", "set_noa", "set_invoicing",
                     "configure_ftp", "update_ftp", "rotate_credentials", "remove_ftp", "drift",
                     "unmanaged"}


def test_no_format_shows_a_secret_value() -> None:
    plan = every_kind_plan()
    for name in renderer_names():
        rendered = get_renderer(name).render(plan)
        assert "ENC[" not in rendered
        assert "user-of-" not in rendered  # live usernames are not shown either


def test_unknown_format_names_the_choices() -> None:
    with pytest.raises(RtssyncError, match="json, markdown, text"):
        get_renderer("yaml")


def test_renderers_are_pluggable() -> None:
    class CountRenderer:
        name = "count"

        def render(self, plan: Plan, *, color: bool = False) -> str:
            return f"{len(plan.changes)}\n"

    register("count", CountRenderer)
    assert "count" in renderer_names()
    assert get_renderer("count").render(every_kind_plan()) == f"{len(every_kind_plan().changes)}\n"
