"""``rtssync history [KEY]``: who changed what and when, from git (DESIGN §3)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rtssync.cli import CliContext
from rtssync.history import config_dir_of, history_as_json, read_history, render_text


@click.command("history")
@click.argument("key", required=False)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]),
              default="text", show_default=True, help="Output format.")
@click.pass_obj
def command(context: CliContext, key: str | None, output_format: str) -> None:
    """Show each commit that changed subsidiary KEY (or any), and what it changed.

    Credentials show as "rotated" when their ciphertext changed; no key is needed and no
    secret or ciphertext is printed.
    """
    config_dir: Path = config_dir_of(context.root, context.config_file, context.config_given)
    entries = read_history(context.root, config_dir, key)
    if output_format == "json":
        click.echo(json.dumps({"history": history_as_json(entries)}, indent=2,
                              ensure_ascii=False))
    else:
        click.echo(render_text(entries), nl=False)
