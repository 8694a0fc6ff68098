"""``rtssync import [--only ID]...``: config files for live subsidiaries that have none."""

from __future__ import annotations

import click

from rtssync.cli import CliContext
from rtssync.config import load_settings
from rtssync.importer import import_subsidiaries
from rtssync.inputs import read_from_configured_tms
from rtssync.match import match_subsidiaries


@click.command("import")
@click.option("--only", multiple=True, metavar="ID",
              help="Only the TMS subsidiary with this id (repeatable).")
@click.pass_obj
def command(obj: CliContext, only: tuple[str, ...]) -> None:
    """Write a file per TMS subsidiary that no file describes (username encrypted)."""
    settings = load_settings(obj.root, obj.config_file)
    inputs = read_from_configured_tms(settings)
    existing = inputs.desired.subsidiaries
    matching = match_subsidiaries(existing, inputs.live)
    result = import_subsidiaries(
        settings.root, settings.config_dir, matching.unmatched_live, existing, only=only
    )
    for written in result.written:
        relative = written.path.relative_to(settings.root)
        click.echo(f"wrote {relative} (TMS {written.tms_id})")
    for skipped in result.skipped:
        click.echo(f"skipped {skipped.name} (TMS {skipped.tms_id}): {skipped.reason}")
    if result.written:
        keys = " ".join(w.key for w in result.written)
        click.echo(
            f"{len(result.written)} file(s) written. The TMS never returns passwords: set each "
            f"with `rtssync secrets set KEY --username U --password-stdin` ({keys}); "
            "`rtssync validate` lists those still missing."
        )
    elif not result.skipped:
        click.echo("Every TMS subsidiary already has a file; nothing to import.")
