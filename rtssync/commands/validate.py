"""``rtssync validate``: schema, cross-file and encryption rules; needs no keys and no TMS."""

from __future__ import annotations

import click

from rtssync.cli import CliContext
from rtssync.validate import validate_repository


@click.command("validate")
@click.pass_obj
def command(context: CliContext) -> None:
    """Check every config file; print each problem as path:line:col: message."""
    result = validate_repository(context.root, context.config_file)
    problems = result.all_problems()
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        click.echo(f"{len(problems)} {noun} found", err=True)
        raise SystemExit(1)
    count = len(result.documents)
    click.echo(f"{count} {'subsidiary' if count == 1 else 'subsidiaries'} valid")
