"""``rtssync status``: last applied commit and time per subsidiary, and drift since."""

from __future__ import annotations

import json

import click

from rtssync.cli import CliContext
from rtssync.config import load_settings
from rtssync.inputs import plan_from, read_from_configured_tms
from rtssync.status import render_status_text, subsidiary_statuses


@click.command("status")
@click.option("--format", "format_name", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.pass_obj
def command(obj: CliContext, format_name: str) -> None:
    """What each subsidiary was last applied from (commit, time) and whether it drifted."""
    settings = load_settings(obj.root, obj.config_file)
    inputs = read_from_configured_tms(settings)
    plan = plan_from(inputs, (), usernames=False)
    statuses = subsidiary_statuses(plan, inputs.desired.subsidiaries, inputs.live)
    if format_name == "json":
        click.echo(json.dumps([s.as_json() for s in statuses], indent=2))
    else:
        click.echo(render_status_text(statuses), nl=False)
