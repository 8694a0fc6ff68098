"""Apply: run a plan's changes against the TMS, in dependency order, safely and re-runnably.

Before anything is written: the safety limits (``safety.*``, ``prune``) unless forced, and the
policy for every host that will receive or keep credentials. Then each change is one versioned
TMS write: updates carry the ETag they were planned against (If-Match), creates carry an
Idempotency-Key derived from the file key and its content, so an apply interrupted anywhere and
re-run finishes the job without doing anything twice. A failing change skips the changes that
depend on it; the others still run. Credentials are decrypted here, one subsidiary at a time,
through the injected :data:`CredentialSource`, and passed to the backend as a Secret.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from rtssync.config import SafetySettings
from rtssync.errors import PolicyError, RtssyncError, SafetyLimitError
from rtssync.journal import Journal
from rtssync.model import (
    AppliedFrom,
    DesiredSubsidiary,
    FtpCredentials,
    FtpSettings,
    LiveSubsidiary,
)
from rtssync.plan import Action, Plan, PlanChange
from rtssync.policy import host_allowed
from rtssync.tms.base import TmsBackend

CredentialSource = Callable[[DesiredSubsidiary], FtpCredentials]
"""Decrypts one subsidiary's RTS FTP login (the command layer wires SOPS in)."""

LoginCheck = Callable[[FtpSettings, FtpCredentials], str | None]
"""``apply --verify``: logs in to RTS with the login; None when it works, else why not."""

NO_COMMIT = "uncommitted"
"""What ``record_applied`` stores when the config repository is not in git."""


class Outcome(StrEnum):
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class ChangeResult:
    change: PlanChange
    outcome: Outcome
    message: str = ""


@dataclass(frozen=True, slots=True)
class ApplyResult:
    results: tuple[ChangeResult, ...]
    errors: tuple[str, ...] = ()
    """Problems outside a single change (e.g. recording the applied commit failed)."""

    @property
    def ok(self) -> bool:
        return not self.errors and all(r.outcome is Outcome.APPLIED for r in self.results)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)


@dataclass(slots=True)
class ApplyHooks:
    """Callbacks for progress display; the engine itself prints nothing."""

    on_start: Callable[[PlanChange], None] = lambda change: None
    on_result: Callable[[ChangeResult], None] = lambda result: None
    verify_login: LoginCheck | None = None
    """With ``--verify``: every FTP change is first tried against RTS's server; a login that
    does not work is never sent to the TMS (the change fails, its dependents are skipped)."""


def check_safety(plan: Plan, safety: SafetySettings, *, prune: bool, force: bool) -> None:
    """Refuse a plan that passes a safety limit, naming the limit and how to pass it."""
    if force:
        return
    removals = [c for c in plan.actionable if c.action is Action.REMOVE_FTP]
    if removals and not prune:
        raise SafetyLimitError(
            f"the plan removes RTS FTP from {len(removals)} subsidiary(ies) but prune is false "
            "in rtssync.yaml; set prune: true, or pass --force"
        )
    if len(removals) > safety.max_deletes:
        raise SafetyLimitError(
            f"the plan removes RTS FTP from {len(removals)} subsidiaries, over "
            f"safety.max_deletes ({safety.max_deletes}); raise it in rtssync.yaml or pass --force"
        )
    updated = {
        c.key for c in plan.actionable
        if c.tms_id is not None and c.action not in (Action.CREATE_SUBSIDIARY, Action.REMOVE_FTP)
    }
    allowed = max(1, math.floor(safety.max_update_fraction * plan.managed_count))
    if len(updated) > allowed:
        raise SafetyLimitError(
            f"the plan changes {len(updated)} of {plan.managed_count} managed subsidiaries, over "
            f"safety.max_update_fraction ({safety.max_update_fraction:g}, at most {allowed}); "
            "raise it in rtssync.yaml or pass --force"
        )


def check_hosts(
    plan: Plan, desired: Mapping[str, DesiredSubsidiary], allowed_hosts: Sequence[str]
) -> None:
    """No FTP write may point credentials at a host outside policy (DESIGN §6)."""
    for change in plan.actionable:
        if change.action in (Action.PUT_FTP_SETTINGS, Action.PUT_FTP_CREDENTIALS):
            _require_allowed(_desired_for(change, desired), allowed_hosts)


def _require_allowed(wanted: DesiredSubsidiary, allowed_hosts: Sequence[str]) -> None:
    if wanted.factoring is None:
        raise RtssyncError(f"{wanted.source}: has no factoring block any more; make a new plan")
    host = wanted.factoring.ftp.host
    if not host_allowed(host, allowed_hosts):
        raise PolicyError(
            f"{wanted.source}: credentials would be sent to {host!r}, which "
            "policy.allowed_hosts does not allow; nothing applied"
        )


def _desired_for(change: PlanChange, desired: Mapping[str, DesiredSubsidiary]) -> DesiredSubsidiary:
    found = desired.get(change.key)
    if found is None:
        raise RtssyncError(f"change {change.id}: no subsidiary file {change.key!r} any more")
    return found


def idempotency_key(plan: Plan, change: PlanChange) -> str:
    """Same file key and same file content -> same key, so a retried create is replayed."""
    digest = plan.desired_digests.get(change.source or "")
    material = json.dumps([change.key, digest, dict(change.after or {})], sort_keys=True)
    return "rtssync-" + hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]


@dataclass(slots=True)
class _Run:
    """One apply in progress: the latest state of each subsidiary and what happened so far."""

    plan: Plan
    desired: Mapping[str, DesiredSubsidiary]
    backend: TmsBackend
    credentials: CredentialSource
    allowed_hosts: Sequence[str]
    verify_login: LoginCheck | None = None
    current: dict[str, LiveSubsidiary] = field(default_factory=dict)
    """File key (or tms:<id>) -> the subsidiary as the last write left it (its ETag)."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def live_of(self, change: PlanChange) -> LiveSubsidiary:
        found = self.current.get(change.key)
        if found is None:
            raise RtssyncError(f"change {change.id}: the subsidiary does not exist in the TMS")
        return found

    def execute(self, change: PlanChange) -> LiveSubsidiary:
        """The one TMS write ``change`` stands for; returns the subsidiary as it now is."""
        if change.action is Action.REMOVE_FTP:
            live = self.live_of(change)
            return self.backend.remove_rts_ftp(live.tms_id, if_match=live.etag)
        wanted = _desired_for(change, self.desired)
        if change.action is Action.CREATE_SUBSIDIARY:
            return self.backend.create_subsidiary(
                wanted.fields, idempotency_key=idempotency_key(self.plan, change)
            )
        live = self.live_of(change)
        if change.action is Action.UPDATE_FIELDS:
            return self.backend.update_subsidiary(live.tms_id, wanted.fields, if_match=live.etag)
        if change.action is Action.SET_INVOICING:
            return self.backend.set_invoicing(live.tms_id, wanted.invoicing, if_match=live.etag)
        if change.action is Action.SET_NOA:
            return self.backend.set_notice_of_assignment(
                live.tms_id, wanted.notice_of_assignment, if_match=live.etag
            )
        return self._put_ftp(change, wanted, live)

    def _put_ftp(
        self, change: PlanChange, wanted: DesiredSubsidiary, live: LiveSubsidiary
    ) -> LiveSubsidiary:
        _require_allowed(wanted, self.allowed_hosts)  # checked again right before sending
        assert wanted.factoring is not None
        with_login = change.action is Action.PUT_FTP_CREDENTIALS
        if with_login and wanted.factoring.credentials.password_ciphertext is None:
            raise RtssyncError(
                f"{wanted.source}: no password in the file; run `rtssync secrets set {wanted.key}`"
            )
        login = self.credentials(wanted) if with_login or self.verify_login else None
        if self.verify_login is not None and login is not None:
            reason = self.verify_login(wanted.factoring.ftp, login)
            if reason is not None:
                raise RtssyncError(f"--verify: the RTS login does not work at "
                                   f"{wanted.factoring.ftp.host}: {reason}; not sent to the TMS")
        return self.backend.put_rts_ftp(
            live.tms_id,
            wanted.factoring.ftp,
            credentials=login if with_login else None,
            credentials_revision=wanted.factoring.credentials.revision if with_login else None,
            if_match=live.etag,
        )


def _blocked_by(change: PlanChange, outcomes: Mapping[str, Outcome]) -> str | None:
    for dependency in change.depends_on:
        if outcomes.get(dependency, Outcome.APPLIED) is not Outcome.APPLIED:
            return dependency
    return None


def _error_text(error: Exception) -> str:
    """RtssyncError messages are secret-free by contract; anything else shows its type only."""
    if isinstance(error, RtssyncError):
        return str(error)
    return f"internal error ({type(error).__name__}); re-run with RTSSYNC_DEBUG=1 for details"


def _run_one(run: _Run, change: PlanChange) -> ChangeResult:
    blocker = _blocked_by(change, run.outcomes)
    if blocker is not None:
        return ChangeResult(change, Outcome.SKIPPED, f"skipped: {blocker} did not apply")
    try:
        run.current[change.key] = run.execute(change)
    except Exception as error:  # one failing change must not stop independent ones
        return ChangeResult(change, Outcome.FAILED, _error_text(error))
    return ChangeResult(change, Outcome.APPLIED, "")


def _journal_entry(result: ChangeResult, run: _Run, commit: str | None) -> dict[str, object]:
    change = result.change
    after = run.current.get(change.key)
    return {
        "time": now_text(), "event": "change", "commit": commit, "change_id": change.id,
        "key": change.key, "kind": change.kind.value, "action": change.action.value,
        "tms_id": after.tms_id if after else change.tms_id, "outcome": result.outcome.value,
        "message": result.message, "etag": after.etag if after else None,
    }


def now_text() -> str:
    """Now, RFC 3339 UTC with milliseconds (the TMS's own format)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _applied_at(live: LiveSubsidiary) -> str:
    """Now, but never earlier than the TMS's own ``updated_at`` (clock skew is not drift)."""
    now = datetime.now(UTC)
    if live.updated_at:
        try:
            updated = datetime.fromisoformat(live.updated_at.replace("Z", "+00:00"))
        except ValueError:
            updated = now
        if updated.tzinfo is not None and updated > now:
            now = updated
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(run: _Run, results: Sequence[ChangeResult], commit: str | None,
            journal: Journal | None) -> list[str]:
    """Mark each subsidiary rtssync wrote to with the commit and time (not removed ones).

    Also after a partial apply: drift means "changed by someone other than rtssync since its
    last write", so the record must follow every write; ``complete`` in the journal says
    whether all of the subsidiary's changes went through.
    """
    errors = []
    keys = dict.fromkeys(r.change.key for r in results if not r.change.key.startswith("tms:"))
    for key in keys:
        mine = [r for r in results if r.change.key == key]
        if not any(r.outcome is Outcome.APPLIED for r in mine) or key not in run.current:
            continue
        live = run.current[key]
        applied = AppliedFrom(commit or NO_COMMIT, _applied_at(live))
        try:
            run.current[key] = run.backend.record_applied(live.tms_id, applied, if_match=live.etag)
        except Exception as error:
            errors.append(f"{key}: applied, but recording the commit failed: {_error_text(error)}")
            continue
        if journal is not None:
            journal.write({"time": now_text(), "event": "recorded", "key": key,
                           "tms_id": live.tms_id, "commit": applied.commit,
                           "applied_at": applied.applied_at,
                           "complete": all(r.outcome is Outcome.APPLIED for r in mine)})
    return errors


def apply_plan(
    plan: Plan,
    desired: Mapping[str, DesiredSubsidiary],
    live: Sequence[LiveSubsidiary],
    backend: TmsBackend,
    *,
    credentials: CredentialSource,
    allowed_hosts: Sequence[str],
    commit: str | None,
    journal: Journal | None = None,
    hooks: ApplyHooks | None = None,
) -> ApplyResult:
    """Apply every actionable change of ``plan`` in order; never raises for a single change.

    ``live`` is the state the plan was checked against (its ETags start each chain of writes).
    Policy is checked for every FTP write before the first write; the caller has already
    checked the safety limits (:func:`check_safety`) and, for a saved plan, its freshness.
    """
    check_hosts(plan, desired, allowed_hosts)
    hooks = hooks or ApplyHooks()
    by_id = {item.tms_id: item for item in live}
    run = _Run(plan, desired, backend, credentials, allowed_hosts, hooks.verify_login)
    for change in plan.changes:
        if change.tms_id is not None and change.tms_id in by_id:
            run.current.setdefault(change.key, by_id[change.tms_id])
    results: list[ChangeResult] = []
    for change in plan.actionable:
        hooks.on_start(change)
        result = _run_one(run, change)
        run.outcomes[change.id] = result.outcome
        results.append(result)
        if journal is not None:
            journal.write(_journal_entry(result, run, commit))
        hooks.on_result(result)
    errors = _record(run, results, commit, journal)
    return ApplyResult(tuple(results), tuple(errors))
