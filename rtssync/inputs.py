"""What a plan is computed from: the settings, the validated files, the TMS's subsidiaries, the
git commit and, with keys, the decrypted RTS usernames. ``plan``, ``apply``, ``status`` and
``import`` all start here, so this is engine code, not CLI code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVar

from rtssync.config import Settings
from rtssync.decrypt import USERNAME_PATH, decrypt_subsidiary_values
from rtssync.desired import DesiredState, load_desired_state, reused_login_problems
from rtssync.errors import ConfigError, SopsError
from rtssync.model import DesiredSubsidiary, LiveSubsidiary
from rtssync.plan import DecryptUsernames, Plan, build_plan
from rtssync.planfile import current_commit
from rtssync.sops import find_identities
from rtssync.tms.base import TmsBackend
from rtssync.tms.factory import open_backend

T = TypeVar("T")


def sops_usernames(files: Sequence[DesiredSubsidiary]) -> Mapping[str, str]:
    """The decrypted RTS FTP usernames, when this machine has keys; {} otherwise.

    Planning must work without keys (pull requests from forks), so any file this machine
    cannot decrypt is simply left out of the username comparison.
    """
    try:
        identities = find_identities()
    except SopsError:
        return {}
    if not identities.identities:
        return {}
    usernames: dict[str, str] = {}
    for wanted in files:
        if wanted.factoring is None:
            continue
        try:
            values = decrypt_subsidiary_values(wanted, [USERNAME_PATH], identities=identities)
        except (SopsError, OSError):
            continue
        username = values.get(USERNAME_PATH)
        if isinstance(username, str):
            usernames[wanted.key] = username
    return usernames


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """Everything a plan was computed from; apply reuses it to execute the plan."""

    settings: Settings
    desired: DesiredState
    live: list[LiveSubsidiary]
    commit: str | None
    usernames: Mapping[str, str] | None = field(default=None, repr=False)
    """Decrypted RTS FTP usernames if read_inputs was asked for them ({} without keys);
    credentials, so never in a repr."""


def read_inputs(settings: Settings, backend: TmsBackend, *, usernames: bool = False
                ) -> PlanInputs:
    """The files (validated, no keys needed), the TMS's subsidiaries and the git commit.

    The TMS is read on a second thread while the files load (and, with ``usernames``, while
    the usernames are decrypted): over HTTP that read is mostly waiting (latency, pacing under
    the rate limit), so the two overlap instead of adding up. A problem in the files is still
    reported at once, without waiting for the TMS.
    """
    live = _in_background(backend.list_subsidiaries)
    desired = load_desired_state(settings)
    known = sops_usernames(list(desired)) if usernames else None
    return PlanInputs(settings, desired, live.result(), current_commit(settings.root), known)


def read_from_configured_tms(settings: Settings, *, usernames: bool = False) -> PlanInputs:
    """:func:`read_inputs` from the TMS ``rtssync.yaml`` names, opened and closed here (for
    commands that only read; apply keeps its backend open to write)."""
    backend = open_backend(settings)
    try:
        return read_inputs(settings, backend, usernames=usernames)
    finally:
        backend.close()


def _in_background(read: Callable[[], T]) -> Future[T]:
    """Run ``read`` on a daemon thread (one nobody has to wait for if the caller gives up)."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(read())
        except BaseException as error:  # handed to whoever asks for the result
            future.set_exception(error)

    threading.Thread(target=run, name="rtssync-read-tms", daemon=True).start()
    return future


def plan_from(inputs: PlanInputs, only: Sequence[str], *, usernames: bool = True) -> Plan:
    settings = inputs.settings
    decrypt: DecryptUsernames | None = None
    if usernames:
        decrypt = sops_usernames if inputs.usernames is None else _already(inputs.usernames)
        decrypt = one_login_each(inputs.desired.subsidiaries, decrypt)
    return build_plan(
        inputs.desired.subsidiaries,
        inputs.live,
        root=settings.root,
        allowed_hosts=settings.policy.allowed_hosts,
        prune=settings.prune,
        only=only,
        desired_digests=inputs.desired.digests,
        commit=inputs.commit,
        decrypt_usernames=decrypt,
    )


def one_login_each(
    subsidiaries: Mapping[str, DesiredSubsidiary], decrypt: DecryptUsernames
) -> DecryptUsernames:
    """``decrypt``, refusing a plan where two files hold the same RTS login (DESIGN §2.1).

    ``validate`` cannot see this without keys (equal usernames encrypt differently), so the
    first stage that reads the usernames enforces it: plan with keys, and every fresh apply.
    """

    def checked(files: Sequence[DesiredSubsidiary]) -> Mapping[str, str]:
        usernames = decrypt(files)
        problems = reused_login_problems(subsidiaries, usernames)
        if problems:
            raise ConfigError(problems)
        return usernames

    return checked


def _already(usernames: Mapping[str, str]) -> DecryptUsernames:
    """The usernames read_inputs decrypted, in the shape build_plan asks for them."""
    return lambda files: usernames
