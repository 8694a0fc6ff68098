"""``rtssync init [DIR]``: scaffold a config repository (DESIGN §3)."""

from __future__ import annotations

from pathlib import Path

import click

from rtssync.cli import CliContext
from rtssync.scaffold import describe_result, init_repository


@click.command("init")
@click.argument("directory", required=False,
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--recipient", metavar="AGE_PUBLIC_KEY", default=None,
              help="Encrypt to this existing age public key instead of creating a new key.")
@click.pass_obj
def command(context: CliContext, directory: Path | None, recipient: str | None) -> None:
    """Create a config repository in DIR (default: the current directory).

    Writes rtssync.yaml, .sops.yaml, an example subsidiary, JSON Schemas, GitHub workflows,
    a pre-commit config and a README, and adds a new age key to your sops keys file (never to
    the repository). Refuses to overwrite any existing file.
    """
    root = (context.root / directory) if directory is not None else context.root
    result = init_repository(root.resolve(), recipient=recipient)
    for line in describe_result(result):
        click.echo(line)
