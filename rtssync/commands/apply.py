"""``rtssync apply [PLANFILE]``: apply a saved plan (refused if stale) or a fresh one.

Thin: freshness, confirmation, safety and progress display live here; the writes are
:func:`rtssync.apply.apply_plan`. Credentials are decrypted with SOPS at this point only, one
subsidiary at a time, straight into a :class:`~rtssync.model.Secret`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from rtssync.apply import (
    ApplyHooks,
    ApplyResult,
    ChangeResult,
    LoginCheck,
    Outcome,
    apply_plan,
    check_hosts,
    check_safety,
    now_text,
)
from rtssync.cli import CliContext
from rtssync.commands.plan import resolve, wants_color
from rtssync.config import Settings, load_settings
from rtssync.decrypt import USERNAME_PATH, decrypt_credentials, decrypt_subsidiary_values
from rtssync.errors import (
    PolicyError,
    RtssyncError,
    SafetyLimitError,
    StalePlanError,
)
from rtssync.inputs import PlanInputs, plan_from, read_inputs
from rtssync.journal import Journal, apply_lock
from rtssync.model import DesiredSubsidiary, FtpCredentials, FtpSettings
from rtssync.plan import Action, Plan
from rtssync.planfile import read_plan, stale_reasons
from rtssync.render.text import TextRenderer, printable
from rtssync.tms.base import TmsBackend
from rtssync.tms.factory import open_backend

VERIFY_TIMEOUT = 15.0
"""Seconds per network step of an ``--verify`` login check."""
PROGRESS_THRESHOLD = 3
"""More changes than this get a progress bar on a terminal; fewer read better as lines."""


def sops_credentials(wanted: DesiredSubsidiary) -> FtpCredentials:
    """Decrypt one subsidiary's RTS FTP login with the identities sops would find."""
    return decrypt_credentials(wanted)


def login_check(settings: Settings) -> LoginCheck:
    """``--verify``: rtssync.verify's login check, under the same policy as everything else."""
    from rtssync.verify.runner import verify_many  # paramiko is slow to import; only when asked

    def check(ftp: FtpSettings, login: FtpCredentials) -> str | None:
        result = verify_many([("login", ftp, login)], policy=settings.policy,
                             timeout=VERIFY_TIMEOUT)["login"]
        return None if result.ok else result.reason

    return check


def _select(plan: Plan, only: Sequence[str]) -> Plan:
    """A saved plan narrowed to ``--only`` keys (each must be in the plan)."""
    if not only:
        return plan
    keys = {c.key for c in plan.changes}
    unknown = sorted(set(only) - keys)
    if unknown:
        raise RtssyncError(f"--only: the plan has no changes for {', '.join(unknown)}")
    return replace(plan, changes=tuple(c for c in plan.changes if c.key in only))


def _saved_plan(path: Path, inputs: PlanInputs, only: Sequence[str]) -> Plan:
    """The saved plan, if the files and the TMS are exactly as when it was made."""
    saved = read_plan(path)
    reasons = stale_reasons(saved, plan_from(inputs, saved.only, usernames=False))
    if reasons:
        raise StalePlanError(
            "stale plan: " + "; ".join(reasons) + ". Nothing applied; make a new plan with "
            "`rtssync plan --out FILE`."
        )
    return _select(saved, only)


def _confirm(plan: Plan, yes: bool) -> None:
    """A fresh plan is shown, then applied only with --yes or a "yes" typed on a terminal."""
    click.echo(TextRenderer().render(plan, color=wants_color()), nl=False)
    if yes:
        return
    if not sys.stdin.isatty():
        raise RtssyncError("not applying without confirmation: stdin is not a terminal; "
                           "pass --yes, or apply a saved plan (`rtssync apply FILE`)")
    if not click.confirm(f"Apply these {len(plan.actionable)} change(s)?", default=False):
        raise RtssyncError("apply cancelled; nothing applied")


def _check_credentials(plan: Plan, desired: Mapping[str, DesiredSubsidiary]) -> None:
    """Every login the plan sends decrypts, MAC verified, before the first write.

    A file that was tampered with (or that no key here opens) then stops the apply with nothing
    applied, instead of leaving its subsidiary created with a NOA but without its RTS login.
    The plaintext is dropped at once; each login is decrypted again right before it is sent.
    A file without a password yet (after ``import``) is checked too: its MAC still covers it.
    """
    keys = dict.fromkeys(c.key for c in plan.actionable
                         if c.action is Action.PUT_FTP_CREDENTIALS)
    for key in keys:
        wanted = desired.get(key)
        if wanted is not None:
            decrypt_subsidiary_values(wanted, [USERNAME_PATH])


def _result_line(result: ChangeResult) -> str:
    change = result.change
    line = f"{result.outcome.value:8} {printable(change.id)}: {printable(change.summary)}"
    return line + (f"\n         {printable(result.message)}" if result.message else "")


def _run(plan: Plan, inputs: PlanInputs, backend: TmsBackend, verify: bool,
         journal: Journal) -> ApplyResult:
    settings = inputs.settings
    verifier = login_check(settings) if verify else None

    def go(hooks: ApplyHooks) -> ApplyResult:
        hooks.verify_login = verifier
        return apply_plan(plan, inputs.desired.subsidiaries, inputs.live, backend,
                          credentials=sops_credentials,
                          allowed_hosts=settings.policy.allowed_hosts,
                          commit=inputs.commit, journal=journal, hooks=hooks)

    if not (sys.stdout.isatty() and len(plan.actionable) > PROGRESS_THRESHOLD):
        return go(ApplyHooks(on_result=lambda r: click.echo(_result_line(r))))
    console = Console(no_color=not wants_color())
    columns = (TextColumn("applying"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("apply", total=len(plan.actionable))

        def done(result: ChangeResult) -> None:
            if result.outcome is not Outcome.APPLIED:
                progress.console.print(_result_line(result), markup=False, highlight=False)
            progress.advance(task)

        return go(ApplyHooks(on_result=done))


def _report(result: ApplyResult) -> None:
    for error in result.errors:
        click.echo(f"error: {printable(error)}", err=True)
    summary = (f"Applied {result.count(Outcome.APPLIED)}, failed {result.count(Outcome.FAILED)}, "
               f"skipped {result.count(Outcome.SKIPPED)}.")
    click.echo(summary)
    if not result.ok:
        sys.exit(1)


@click.command("apply")
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--only", multiple=True, metavar="KEY", help="Only this subsidiary (repeatable).")
@click.option("--yes", is_flag=True, help="Apply a fresh plan without asking.")
@click.option("--force", is_flag=True, help="Pass the safety limits (safety.*, prune).")
@click.option("--verify", is_flag=True,
              help="Log in to RTS with each login before sending it to the TMS.")
@click.pass_obj
def command(
    obj: CliContext, planfile: Path | None, only: tuple[str, ...], yes: bool, force: bool,
    verify: bool,
) -> None:
    """Apply a saved plan (refused if stale) or a fresh plan (--yes without a terminal)."""
    settings = load_settings(obj.root, obj.config_file)
    with apply_lock(settings.root):
        journal = Journal.for_repository(settings.root)
        backend = open_backend(settings)
        try:
            inputs = read_inputs(settings, backend)
            plan = _checked_plan(inputs, planfile and resolve(obj.root, planfile), only, force,
                                 journal)
            if not plan.has_changes:
                click.echo("No changes. The TMS matches git.")
                return
            _check_credentials(plan, inputs.desired.subsidiaries)
            if planfile is None:
                _confirm(plan, yes)
            result = _run(plan, inputs, backend, verify, journal)
        finally:
            backend.close()
    _report(result)


def _checked_plan(inputs: PlanInputs, planfile: Path | None, only: Sequence[str], force: bool,
                  journal: Journal) -> Plan:
    """The plan to apply, once freshness, safety and policy allow it; a refusal is journaled."""
    settings = inputs.settings
    try:
        plan = _saved_plan(planfile, inputs, only) if planfile else plan_from(inputs, only)
        if plan.has_changes:
            check_safety(plan, settings.safety, prune=settings.prune, force=force)
            check_hosts(plan, inputs.desired.subsidiaries, settings.policy.allowed_hosts)
    except (StalePlanError, SafetyLimitError, PolicyError) as error:
        journal.write({"time": now_text(), "event": "refused", "commit": inputs.commit,
                       "plan_file": str(planfile) if planfile else None, "reason": str(error)})
        raise
    return plan
