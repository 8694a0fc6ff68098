"""Plan renderers, by name: ``text`` (terminals), ``json`` (machines), ``markdown`` (PR comments).

Pluggable like octoDNS providers: :func:`register` adds one at run time, and any installed
package can add one through the ``rtssync.renderers`` entry-point group (the entry point names
a class or factory that returns a :class:`Renderer`). Renderers see only the Plan: they never
talk to the TMS and never see a secret, so any renderer is safe to point at a public place.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from rtssync.errors import RtssyncError
from rtssync.plan import Plan

ENTRY_POINT_GROUP = "rtssync.renderers"


@runtime_checkable
class Renderer(Protocol):
    """Turns a plan into text. ``color`` is a request; formats without colour ignore it."""

    name: str

    def render(self, plan: Plan, *, color: bool = False) -> str: ...


RendererFactory = Callable[[], Renderer]

_BUILT_IN: dict[str, str] = {
    "text": "rtssync.render.text:TextRenderer",
    "json": "rtssync.render.json:JsonRenderer",
    "markdown": "rtssync.render.markdown:MarkdownRenderer",
}
_REGISTERED: dict[str, RendererFactory] = {}


def register(name: str, factory: RendererFactory) -> None:
    """Make ``factory`` available as ``--format NAME`` (replaces one of the same name)."""
    _REGISTERED[name] = factory


def _load(target: str) -> RendererFactory:
    module_name, _, attribute = target.partition(":")
    factory: RendererFactory = getattr(import_module(module_name), attribute)
    return factory


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def renderer_names() -> list[str]:
    """Every format name available: built-in, plug-ins and registered at run time."""
    return sorted(set(_BUILT_IN) | set(_plugins()) | set(_REGISTERED))


def get_renderer(name: str) -> Renderer:
    """The renderer for ``--format NAME``; RtssyncError naming the choices if unknown."""
    if name in _REGISTERED:
        return _REGISTERED[name]()
    target = _BUILT_IN.get(name) or _plugins().get(name)
    if target is None:
        raise RtssyncError(
            f"unknown plan format {name!r}; choose one of: {', '.join(renderer_names())}"
        )
    return _load(target)()
