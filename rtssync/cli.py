"""The command line: thin. Each command lives in ``rtssync/commands/<name>.py`` and calls the
engine library; this module only wires the group, the global options and error reporting."""

from __future__ import annotations

import contextlib
import importlib
import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from rtssync import __version__
from rtssync.errors import RtssyncError

# Modules under rtssync.commands that export ``command: click.Command``.
COMMAND_MODULES: tuple[str, ...] = (
    "validate",
    "secrets",
    "plan",
    "apply",
    "import_",
    "status",
    "verify",
    "history",
    "init",
    "tms",
)


@dataclass(frozen=True, slots=True)
class CliContext:
    """Global options, resolved: the config repository root and its rtssync.yaml."""

    root: Path
    config_file: Path
    config_given: bool = False
    """True when --config named the settings file (a missing one is then an error everywhere)."""


class RtssyncGroup(click.Group):
    """A group that turns every RtssyncError into one message on stderr and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RtssyncError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as error:
            # A bug, not a user mistake. The exception's text may carry data we cannot vet for
            # secrets, so only its type is printed unless the user asks for the full story.
            if os.environ.get("RTSSYNC_DEBUG"):
                raise
            click.echo(
                f"internal error ({type(error).__name__}); "
                "re-run with RTSSYNC_DEBUG=1 for details and report it",
                err=True,
            )
            sys.exit(1)


@click.group(cls=RtssyncGroup)
@click.version_option(__version__, prog_name="rtssync")
@click.option(
    "-C",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="Run as if started in DIR (the config repository).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (default: rtssync.yaml in the repository root).",
)
@click.pass_context
def cli(ctx: click.Context, directory: Path | None, config_file: Path | None) -> None:
    """Manage RTS Financial factoring setup in the Alvys TMS as code."""
    _check_directory(directory, ctx.invoked_subcommand)
    root = (directory or Path.cwd()).resolve()
    given = config_file is not None
    if config_file is None:
        config_file = root / "rtssync.yaml"
    elif not config_file.is_absolute():
        config_file = (root / config_file).resolve()
    ctx.obj = CliContext(root=root, config_file=config_file, config_given=given)


def _check_directory(directory: Path | None, command: str | None) -> None:
    """-C must name a folder; only ``init`` may name one that does not exist yet (it creates it).

    Checked here rather than by click.Path(exists=True): one "error:" line and exit 1, like
    every other bad input, instead of click's usage text and exit 2.
    """
    if directory is None or directory.is_dir():
        return
    if directory.exists():
        raise RtssyncError(
            f"{directory}: is not a directory; -C DIR must name the config repository folder")
    if command != "init":
        raise RtssyncError(
            f"{directory}: does not exist; -C DIR must name the config repository folder "
            "(`rtssync -C DIR init` creates one)")


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"rtssync.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"rtssync.commands.{name}":
                continue  # not built yet
            raise
        cli.add_command(module.command)


_register_commands()


def _no_core_dumps() -> None:
    """A crash must not write decrypted RTS passwords (held in memory during apply, verify and
    secrets set) to a core file on disk: the core size limit goes to 0 for this process."""
    with contextlib.suppress(ValueError, OSError):  # a platform without the limit
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    _no_core_dumps()
    cli(auto_envvar_prefix=None)
