"""``rtssync verify [KEY]...``: log in to each subsidiary's RTS server and check its folder.

Thin: load and validate the files, pick the subsidiaries, hand them to the verify library with
a SOPS credential source, print the report. Exit 0 only when every login checked passed and
no two subsidiaries share an RTS login (checkable here, where usernames are decrypted).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from rtssync.cli import CliContext
from rtssync.config import load_settings
from rtssync.desired import load_desired_state, reused_login_problems
from rtssync.errors import RtssyncError
from rtssync.model import DesiredSubsidiary
from rtssync.verify.credentials import Usernames, remembering_usernames, sops_credentials
from rtssync.verify.options import VerifyOptions
from rtssync.verify.report import print_table, render_json, render_plain
from rtssync.verify.runner import DEFAULT_CONCURRENCY, SubsidiaryCheck, verify_subsidiaries

INSECURE_NOTICE = (
    "WARNING: --insecure-skip-tls-verify: FTPS server certificates are NOT checked; "
    "passwords may be sent to an impostor"
)


@click.command("verify")
@click.argument("keys", nargs=-1)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text",
    show_default=True, help="text for people, json for scripts.",
)
@click.option(
    "--write-probe", is_flag=True,
    help="Also upload and delete an empty file. Off by default: RTS may process anything "
    "dropped into its incoming folder.",
)
@click.option(
    "--ca-bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="PEM file of CA certificates to trust for FTPS instead of the system's.",
)
@click.option(
    "--insecure-skip-tls-verify", "insecure", is_flag=True,
    help="Do not check FTPS certificates (reported as a warning on every result).",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0.1, max=600), default=15.0, show_default=True,
    help="Seconds allowed for each network step.",
)
@click.option(
    "--concurrency", type=click.IntRange(min=1, max=64), default=DEFAULT_CONCURRENCY,
    show_default=True, help="How many servers to check at once.",
)
@click.pass_obj
def command(
    context: CliContext,
    keys: tuple[str, ...],
    output_format: str,
    write_probe: bool,
    ca_bundle: Path | None,
    insecure: bool,
    timeout: float,
    concurrency: int,
) -> None:
    """Log in to each subsidiary's RTS FTP/FTPS/SFTP server (all, or KEY...) and list its folder."""
    settings = load_settings(context.root, context.config_file)
    desired = load_desired_state(settings)
    selected = select(list(desired), keys)
    if insecure:
        click.echo(INSECURE_NOTICE, err=True)
    options = VerifyOptions(
        policy=settings.policy,
        timeout=timeout,
        write_probe=write_probe,
        ca_bundle=ca_bundle,
        tls_verify=not insecure,
    )
    usernames: Usernames = {}
    source = remembering_usernames(sops_credentials(), usernames)
    checks = verify_subsidiaries(selected, source, options, concurrency=concurrency)
    report(checks, output_format)
    reused = reused_login_problems(desired.subsidiaries, usernames)
    for problem in reused:
        click.echo(f"error: {problem}", err=True)
    if reused or not all(check.ok for check in checks):
        sys.exit(1)


def select(
    subsidiaries: Sequence[DesiredSubsidiary], keys: Sequence[str]
) -> list[DesiredSubsidiary]:
    """The named subsidiaries in the order named (all when none), or an error naming strangers."""
    if not keys:
        return list(subsidiaries)
    by_key = {subsidiary.key: subsidiary for subsidiary in subsidiaries}
    unknown = [key for key in keys if key not in by_key]
    if unknown:
        known = ", ".join(sorted(by_key)) or "none"
        raise RtssyncError(f"no subsidiary file for {', '.join(unknown)} (known: {known})")
    return [by_key[key] for key in dict.fromkeys(keys)]


def report(checks: Sequence[SubsidiaryCheck], output_format: str) -> None:
    if output_format == "json":
        click.echo(render_json(checks))
    elif sys.stdout.isatty():
        print_table(checks, sys.stdout, color=not os.environ.get("NO_COLOR"))
    else:
        click.echo(render_plain(checks))
