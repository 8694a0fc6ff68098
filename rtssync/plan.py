"""The plan: every change apply would make, typed, ordered and explained.

``build_plan`` takes the desired state (files, already validated) and the live state (read from
the TMS) and returns a :class:`Plan`. A plan holds no secret: credentials are compared by their
revision (a digest of the SOPS ciphertext, DESIGN §5), so planning needs no decryption key; when
the command layer has keys it may pass ``decrypt_usernames`` to also compare the usernames read
back from the TMS. Passwords are never decrypted here.

Each :class:`PlanChange` is one TMS write (its ``action``) with a stable id (``<key>/<kind>``),
a human summary, the non-secret values before and after, the secret fields as
``changed``/``unchanged`` and the ids of changes that must succeed first (``depends_on``).

Drift (a change made in the TMS outside rtssync) is recognised two ways:

- credentials: the TMS keeps a password but its ``credentials_revision`` was cleared (any edit in
  the UI clears it) or the username read back differs while the revision still matches;
- everything else: the TMS says the subsidiary was updated after rtssync last applied to it
  (``updated_at`` later than ``applied_from.applied_at``) and a value differs from git.

A drift change carries the action that restores the value from git, so apply fixes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from rtssync.diff import PlainValue, changed_keys, noa_line_diff, only_changed, plain
from rtssync.errors import ConfigError, Problem, RtssyncError
from rtssync.match import Match, location_of, match_subsidiaries
from rtssync.model import DesiredSubsidiary, FtpProtocol, LiveSubsidiary
from rtssync.policy import host_allowed

PLAN_FORMAT_VERSION = 1
NEW_HOST_WARNING = "credentials will be sent to a NEW host"


class ChangeKind(StrEnum):
    """What a change means to a reviewer (DESIGN §3)."""

    CREATE_SUBSIDIARY = "create_subsidiary"
    UPDATE_FIELDS = "update_fields"
    SET_NOA = "set_noa"
    SET_INVOICING = "set_invoicing"
    CONFIGURE_FTP = "configure_ftp"
    UPDATE_FTP = "update_ftp"
    ROTATE_CREDENTIALS = "rotate_credentials"
    REMOVE_FTP = "remove_ftp"
    DRIFT = "drift"
    UNMANAGED = "unmanaged"


class Action(StrEnum):
    """The one TMS write a change makes (``none``: informational)."""

    CREATE_SUBSIDIARY = "create_subsidiary"
    UPDATE_FIELDS = "update_fields"
    SET_INVOICING = "set_invoicing"
    SET_NOA = "set_noa"
    PUT_FTP_CREDENTIALS = "put_ftp_credentials"
    """Settings and login; apply decrypts the credentials for this one."""
    PUT_FTP_SETTINGS = "put_ftp_settings"
    """Settings only; the TMS keeps the stored login and its revision."""
    REMOVE_FTP = "remove_ftp"
    NONE = "none"


# The order writes to one subsidiary happen in: it must exist before anything is set on it, and
# a new login goes out (with the new settings) before a settings-only write, so a stored login
# is never pointed at a new host on its own.
ACTION_ORDER: tuple[Action, ...] = tuple(Action)


class SecretState(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class PlanChange:
    """One change, as shown to a reviewer and executed by apply."""

    id: str
    key: str
    """The subsidiary file's key, or ``tms:<id>`` for a TMS subsidiary that has no file."""
    kind: ChangeKind
    action: Action
    summary: str
    tms_id: str | None = None
    source: str | None = None
    """The subsidiary file, relative to the config repository root."""
    aspect: str | None = None
    """What part of the subsidiary a drift (or note) is about: fields, noa, invoicing, ftp, ..."""
    before: Mapping[str, PlainValue] | None = None
    after: Mapping[str, PlainValue] | None = None
    secrets: Mapping[str, SecretState] = field(default_factory=dict)
    noa_diff: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()

    @property
    def actionable(self) -> bool:
        return self.action is not Action.NONE


@dataclass(frozen=True, slots=True)
class LiveVersion:
    """What a live subsidiary looked like when planned; a saved plan is stale if it moved."""

    etag: str
    credentials_revision: str | None
    key: str | None
    """The file it matched, if any."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything apply would do, plus what the plan was computed from (for staleness)."""

    changes: tuple[PlanChange, ...]
    commit: str | None
    desired_digests: Mapping[str, str]
    """Subsidiary file (relative path) -> sha256 of its bytes."""
    live_versions: Mapping[str, LiveVersion]
    """TMS id -> version, for every live subsidiary read."""
    managed_count: int
    """Live subsidiaries described by a file: the base of ``safety.max_update_fraction``."""
    only: tuple[str, ...] = ()
    created_at: str = ""

    @property
    def actionable(self) -> tuple[PlanChange, ...]:
        return tuple(c for c in self.changes if c.actionable)

    @property
    def has_changes(self) -> bool:
        """True when apply would write anything (unmanaged notes alone are not changes)."""
        return any(c.actionable for c in self.changes)

    def counts(self) -> dict[str, int]:
        """Number of changes of each kind, in the canonical kind order."""
        return {
            kind.value: sum(1 for c in self.changes if c.kind is kind)
            for kind in ChangeKind
            if any(c.kind is kind for c in self.changes)
        }


DecryptUsernames = Callable[[Sequence[DesiredSubsidiary]], Mapping[str, str]]
"""Seam for the command layer: file key -> decrypted RTS FTP username (keys present only)."""


@dataclass(frozen=True, slots=True)
class _Context:
    """What every per-subsidiary step needs to know besides the subsidiary itself."""

    root: Path
    prune: bool
    usernames: Mapping[str, str]


def change_id(key: str, kind: ChangeKind, aspect: str | None = None) -> str:
    """Stable across runs: one change of a kind per subsidiary (drift: one per aspect)."""
    return f"{key}/{kind.value}:{aspect}" if aspect else f"{key}/{kind.value}"


@functools.lru_cache(maxsize=16384)
def _relative(path: Path, root: Path) -> str:
    """Cached: asked for every change and subsidiary, and each call resolves two paths."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _noa_summary(diff: tuple[str, ...], was_empty: bool) -> str:
    if was_empty:
        return "set the Notice of Assignment"
    added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
    return f"change the Notice of Assignment (+{added} -{removed} lines)"


def _plain_ftp_warning(settings_protocol: FtpProtocol) -> tuple[str, ...]:
    if settings_protocol is FtpProtocol.FTP:
        return ("plain FTP sends the password in clear (RTS's FTP server requires it)",)
    return ()


def _create_changes(desired: DesiredSubsidiary, ctx: _Context) -> list[PlanChange]:
    """A new subsidiary: create it, then set invoicing, the NOA and the RTS FTP login."""
    key, source = desired.key, _relative(desired.source, ctx.root)
    fields = desired.fields
    create = PlanChange(
        id=change_id(key, ChangeKind.CREATE_SUBSIDIARY), key=key,
        kind=ChangeKind.CREATE_SUBSIDIARY, action=Action.CREATE_SUBSIDIARY,
        summary=f"create subsidiary {fields.name!r} (MC {fields.mc_number}, "
        f"DOT {fields.dot_number})",
        source=source, before=None, after=plain(fields),
    )
    after = (create.id,)
    changes = [
        create,
        PlanChange(
            id=change_id(key, ChangeKind.SET_INVOICING), key=key, kind=ChangeKind.SET_INVOICING,
            action=Action.SET_INVOICING, summary=_invoicing_summary(desired), source=source,
            after=plain(desired.invoicing), depends_on=after,
        ),
        PlanChange(
            id=change_id(key, ChangeKind.SET_NOA), key=key, kind=ChangeKind.SET_NOA,
            action=Action.SET_NOA, summary="set the Notice of Assignment", source=source,
            noa_diff=noa_line_diff(None, desired.notice_of_assignment), depends_on=after,
        ),
    ]
    if desired.factoring is not None:
        changes.append(_configure_ftp(desired, None, source, after))
    return changes


def _invoicing_summary(desired: DesiredSubsidiary) -> str:
    invoicing = desired.invoicing
    merge = "on" if invoicing.auto_merge else "off"
    return f"set invoicing to {invoicing.method.value}, AutoMerge {merge}"


def _configure_ftp(
    desired: DesiredSubsidiary, tms_id: str | None, source: str, depends_on: tuple[str, ...]
) -> PlanChange:
    assert desired.factoring is not None
    ftp = desired.factoring.ftp
    warnings = _plain_ftp_warning(ftp.protocol)
    if desired.factoring.credentials.password_ciphertext is None:
        warnings += (
            f"the file has no password yet: run `rtssync secrets set {desired.key}` before apply",
        )
    return PlanChange(
        id=change_id(desired.key, ChangeKind.CONFIGURE_FTP), key=desired.key,
        kind=ChangeKind.CONFIGURE_FTP, action=Action.PUT_FTP_CREDENTIALS,
        summary=f"configure RTS FTP: {ftp.protocol.value}://{ftp.host}:{ftp.port}{ftp.directory}",
        tms_id=tms_id, source=source, after=plain(ftp),
        secrets={"username": SecretState.CHANGED, "password": SecretState.CHANGED},
        warnings=warnings, depends_on=depends_on,
    )


def _edited_in_tms(live: LiveSubsidiary) -> bool:
    """True when the TMS says the record changed after rtssync last applied to it."""
    if live.applied_from is None or live.updated_at is None:
        return False
    try:
        updated = _parse_time(live.updated_at)
        applied = _parse_time(live.applied_from.applied_at)
    except ValueError:
        return False
    return updated > applied


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Values:
    """The non-secret detail of a change: before/after values, NOA diff and warnings."""

    before: Mapping[str, PlainValue] | None = None
    after: Mapping[str, PlainValue] | None = None
    noa_diff: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()


def _difference(
    desired: DesiredSubsidiary, live: LiveSubsidiary, ctx: _Context, *, kind: ChangeKind,
    action: Action, aspect: str, summary: str, edited: bool, values: _Values,
) -> PlanChange:
    """A change of ``kind``, or a drift restoring the same aspect when the TMS was edited."""
    shown_kind = ChangeKind.DRIFT if edited else kind
    if edited:
        summary = f"drift: {aspect} changed in the TMS outside rtssync; restore ({summary})"
    return PlanChange(
        id=change_id(desired.key, shown_kind, aspect if edited else None), key=desired.key,
        kind=shown_kind, action=action, summary=summary, tms_id=live.tms_id,
        source=_relative(desired.source, ctx.root), aspect=aspect, before=values.before,
        after=values.after, noa_diff=values.noa_diff, warnings=values.warnings,
        depends_on=values.depends_on,
    )


def _field_changes(
    desired: DesiredSubsidiary, live: LiveSubsidiary, ctx: _Context, edited: bool
) -> list[PlanChange]:
    changes = []
    before, after = only_changed(plain(live.fields), plain(desired.fields))
    if after:
        changes.append(_difference(
            desired, live, ctx, kind=ChangeKind.UPDATE_FIELDS, action=Action.UPDATE_FIELDS,
            aspect="fields", summary="update " + ", ".join(after), edited=edited,
            values=_Values(before=before, after=after),
        ))
    live_invoicing = plain(live.invoicing) if live.invoicing is not None else {}
    if changed_keys(live_invoicing, plain(desired.invoicing)):
        changes.append(_difference(
            desired, live, ctx, kind=ChangeKind.SET_INVOICING, action=Action.SET_INVOICING,
            aspect="invoicing", summary=_invoicing_summary(desired), edited=edited,
            values=_Values(before=live_invoicing or None, after=plain(desired.invoicing)),
        ))
    if live.notice_of_assignment != desired.notice_of_assignment:
        diff = noa_line_diff(live.notice_of_assignment, desired.notice_of_assignment)
        changes.append(_difference(
            desired, live, ctx, kind=ChangeKind.SET_NOA, action=Action.SET_NOA, aspect="noa",
            summary=_noa_summary(diff, not live.notice_of_assignment), edited=edited,
            values=_Values(noa_diff=diff),
        ))
    return changes


def _ftp_changes(
    desired: DesiredSubsidiary, live: LiveSubsidiary, ctx: _Context, edited: bool
) -> list[PlanChange]:
    """RTS FTP: configure, update settings, rotate or restore credentials, or note removal."""
    source = _relative(desired.source, ctx.root)
    if desired.factoring is None:
        return _unwanted_ftp(desired, live, ctx, source)
    if live.rts_ftp is None:
        return [_configure_ftp(desired, live.tms_id, source, ())]
    changes: list[PlanChange] = []
    ftp, live_ftp = desired.factoring.ftp, live.rts_ftp
    before, after = only_changed(plain(live_ftp.settings), plain(ftp))
    new_host = (f"{NEW_HOST_WARNING}: {live_ftp.settings.host} -> {ftp.host}",)
    credentials = _credential_change(desired, live, ctx, source)
    if credentials is not None:
        warnings = credentials.warnings + (new_host if "host" in after else ())
        changes.append(replace(credentials, warnings=warnings))
    if after:
        host_moved = "host" in after and live_ftp.password_set
        changes.append(_difference(
            desired, live, ctx, kind=ChangeKind.UPDATE_FTP, action=Action.PUT_FTP_SETTINGS,
            aspect="ftp", summary="update RTS FTP settings: " + ", ".join(after), edited=edited,
            values=_Values(before=before, after=after, warnings=new_host if host_moved else (),
                           depends_on=tuple(c.id for c in changes)),
        ))
    return changes


def _credential_change(
    desired: DesiredSubsidiary, live: LiveSubsidiary, ctx: _Context, source: str
) -> PlanChange | None:
    """Compare credentials by revision (no key needed) and, if decrypted, by username."""
    assert desired.factoring is not None
    assert live.rts_ftp is not None
    wanted = desired.factoring.credentials
    if wanted.password_ciphertext is None:
        return None  # nothing to send: the file has no password yet (e.g. after import)
    live_ftp = live.rts_ftp
    known_username = ctx.usernames.get(desired.key)
    username_differs = known_username is not None and known_username != live_ftp.username
    username = (
        SecretState.UNCHANGED if known_username is not None and not username_differs
        else SecretState.CHANGED
    )

    def change(kind: ChangeKind, summary: str, password: SecretState) -> PlanChange:
        assert desired.factoring is not None
        return PlanChange(
            id=change_id(desired.key, kind, "credentials" if kind is ChangeKind.DRIFT else None),
            key=desired.key, kind=kind, action=Action.PUT_FTP_CREDENTIALS, summary=summary,
            tms_id=live.tms_id, source=source, aspect="credentials",
            secrets={"username": username, "password": password},
            warnings=_plain_ftp_warning(desired.factoring.ftp.protocol),
        )

    if not live_ftp.password_set or live_ftp.credentials_revision is None:
        why = "cleared" if live_ftp.password_set else "no password stored"
        return change(
            ChangeKind.DRIFT,
            f"drift: RTS FTP credentials changed in the TMS outside rtssync (revision {why}); "
            "re-send them from git",
            SecretState.CHANGED,
        )
    if live_ftp.credentials_revision != wanted.revision:
        return change(
            ChangeKind.ROTATE_CREDENTIALS, "rotate RTS FTP credentials (changed in git)",
            SecretState.CHANGED,
        )
    if username_differs:
        return change(
            ChangeKind.DRIFT,
            "drift: the RTS FTP username in the TMS differs from git; re-send credentials",
            SecretState.UNCHANGED,
        )
    return None


def _unwanted_ftp(
    desired: DesiredSubsidiary, live: LiveSubsidiary, ctx: _Context, source: str
) -> list[PlanChange]:
    """The file has no factoring block but the TMS has RTS FTP: remove only with prune."""
    if live.rts_ftp is None:
        return []
    before = plain(live.rts_ftp.settings)
    if ctx.prune:
        return [PlanChange(
            id=change_id(desired.key, ChangeKind.REMOVE_FTP), key=desired.key,
            kind=ChangeKind.REMOVE_FTP, action=Action.REMOVE_FTP,
            summary="remove RTS FTP (the file has no factoring block; prune: true)",
            tms_id=live.tms_id, source=source, before=before,
        )]
    return [PlanChange(
        id=change_id(desired.key, ChangeKind.UNMANAGED, "rts_ftp"), key=desired.key,
        kind=ChangeKind.UNMANAGED, action=Action.NONE, aspect="rts_ftp",
        summary="RTS FTP is configured in the TMS but not in the file; kept (prune: false)",
        tms_id=live.tms_id, source=source, before=before,
    )]


def _matched_changes(match: Match, ctx: _Context) -> list[PlanChange]:
    if match.live is None:
        return _create_changes(match.desired, ctx)
    edited = _edited_in_tms(match.live)
    changes = _field_changes(match.desired, match.live, ctx, edited)
    changes += _ftp_changes(match.desired, match.live, ctx, edited)
    return changes


def _unmatched_change(live: LiveSubsidiary, prune: bool) -> PlanChange:
    """A TMS subsidiary with no file: informational, or an RTS FTP removal under prune.

    Only subsidiaries rtssync applied before (``applied_from`` set) are pruned: a subsidiary
    someone manages by hand, never touched by rtssync, is not ours to dismantle.
    """
    key = f"tms:{live.tms_id}"
    name = live.fields.name
    if prune and live.rts_ftp is not None and live.applied_from is not None:
        return PlanChange(
            id=change_id(key, ChangeKind.REMOVE_FTP), key=key, kind=ChangeKind.REMOVE_FTP,
            action=Action.REMOVE_FTP, tms_id=live.tms_id,
            summary=f"remove RTS FTP from {name!r}: its file was removed (prune: true)",
            before=plain(live.rts_ftp.settings),
        )
    note = "in the TMS, not in git"
    if live.applied_from is not None and live.rts_ftp is not None:
        note += "; its file was removed, RTS FTP kept (set prune: true to remove it)"
    return PlanChange(
        id=change_id(key, ChangeKind.UNMANAGED), key=key, kind=ChangeKind.UNMANAGED,
        action=Action.NONE, tms_id=live.tms_id, summary=f"unmanaged: {name!r} ({note})",
        before=plain(live.fields),
    )


def _check_policy(desired: Mapping[str, DesiredSubsidiary], allowed: Sequence[str]) -> None:
    """Credentials are never sent to a host outside policy.allowed_hosts (DESIGN §6)."""
    problems = []
    for key in sorted(desired):
        factoring = desired[key].factoring
        if factoring is not None and not host_allowed(factoring.ftp.host, allowed):
            problems.append(Problem(
                location_of(desired[key], "factoring.ftp.host"),
                f"host {factoring.ftp.host!r} is not allowed by policy.allowed_hosts "
                f"({', '.join(allowed) or 'empty'}); credentials are never sent there",
            ))
    if problems:
        raise ConfigError(problems)


def _order(changes: list[PlanChange]) -> tuple[PlanChange, ...]:
    """Files first (by key), TMS-only subsidiaries last; per subsidiary in ACTION_ORDER."""
    def sort_key(change: PlanChange) -> tuple[bool, str, int, str]:
        return (change.key.startswith("tms:"), change.key, ACTION_ORDER.index(change.action),
                change.id)

    return tuple(sorted(changes, key=sort_key))


def _select(changes: list[PlanChange], only: Collection[str], known: Collection[str]) -> list[
    PlanChange
]:
    unknown = sorted(set(only) - set(known))
    if unknown:
        raise RtssyncError(
            f"--only: no subsidiary file or TMS subsidiary named {', '.join(unknown)} "
            "(use a file key such as alpha-freight, or tms:<id>)"
        )
    return [c for c in changes if c.key in only] if only else changes


def build_plan(
    desired: Mapping[str, DesiredSubsidiary],
    live: Sequence[LiveSubsidiary],
    *,
    root: Path,
    allowed_hosts: Sequence[str],
    prune: bool = False,
    only: Collection[str] = (),
    desired_digests: Mapping[str, str] | None = None,
    commit: str | None = None,
    decrypt_usernames: DecryptUsernames | None = None,
) -> Plan:
    """Compare desired with live and return every change apply would make, in order.

    Raises ConfigError for ambiguous matches and hosts outside policy, RtssyncError for an
    unknown ``--only`` key. ``decrypt_usernames`` is called at most once, only when given.
    """
    _check_policy(desired, allowed_hosts)
    matching = match_subsidiaries(desired, live)
    usernames = decrypt_usernames(list(desired.values())) if decrypt_usernames else {}
    ctx = _Context(root=root, prune=prune, usernames=usernames)
    changes: list[PlanChange] = []
    for key in sorted(matching.matches):
        changes += _matched_changes(matching.matches[key], ctx)
    changes += [_unmatched_change(item, prune) for item in matching.unmatched_live]
    known = set(desired) | {f"tms:{item.tms_id}" for item in live}
    selected = _select(changes, only, known)
    matched_keys = {m.live.tms_id: key for key, m in matching.matches.items() if m.live}
    versions = {
        item.tms_id: LiveVersion(
            etag=item.etag,
            credentials_revision=item.rts_ftp.credentials_revision if item.rts_ftp else None,
            key=matched_keys.get(item.tms_id),
        )
        for item in live
    }
    return Plan(
        changes=_order(selected), commit=commit, desired_digests=dict(desired_digests or {}),
        live_versions=versions, managed_count=len(matched_keys), only=tuple(sorted(only)),
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
