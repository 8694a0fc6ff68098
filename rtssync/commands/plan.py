"""``rtssync plan``: desired (git) vs live (TMS); what apply would do. Never prints a secret.

Thin: it loads the settings and the files, reads the TMS, calls :func:`rtssync.plan.build_plan`
and hands the plan to a renderer. With age keys present it also decrypts the RTS FTP usernames
(only those) so a username changed in the TMS shows; without keys it plans all the same.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from rtssync.cli import CliContext
from rtssync.config import load_settings
from rtssync.inputs import plan_from, read_from_configured_tms
from rtssync.planfile import write_plan
from rtssync.render import get_renderer

EXIT_CHANGES = 2


def wants_color(stream: object = None) -> bool:
    """Colour only on a terminal and only without NO_COLOR (https://no-color.org)."""
    target = stream if stream is not None else sys.stdout
    return "NO_COLOR" not in os.environ and bool(getattr(target, "isatty", lambda: False)())


def resolve(root: Path, path: Path) -> Path:
    """Paths on the command line are relative to the repository (``-C DIR``), like git's."""
    return path if path.is_absolute() else root / path


@click.command("plan")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the plan (JSON, no secrets) for `rtssync apply FILE`.")
@click.option("--format", "format_name", default="text", show_default=True,
              help="text, json or markdown (or a plug-in renderer).")
@click.option("--only", multiple=True, metavar="KEY", help="Only this subsidiary (repeatable).")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 2 when there are changes, 0 when there are none, 1 on error.")
@click.pass_obj
def command(
    obj: CliContext, out: Path | None, format_name: str, only: tuple[str, ...],
    detailed_exitcode: bool,
) -> None:
    """Show what apply would change in the TMS. Needs no decryption key."""
    renderer = get_renderer(format_name)
    settings = load_settings(obj.root, obj.config_file)
    plan = plan_from(read_from_configured_tms(settings, usernames=True), only)
    if out is not None:  # saved first: a plan that cannot be saved is an error, not output
        target = resolve(obj.root, out)
        write_plan(plan, target)
    click.echo(renderer.render(plan, color=format_name == "text" and wants_color()), nl=False)
    if out is not None:
        click.echo(f"Saved the plan to {target}; apply it with `rtssync apply {target}`.",
                   err=True)
    if detailed_exitcode and plan.has_changes:
        sys.exit(EXIT_CHANGES)
