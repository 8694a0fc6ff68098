"""``rtssync status``: what each subsidiary was last applied from, and whether it drifted.

Computed from a plan (keyless, like a pull-request plan) and the live records: the TMS keeps the
commit and time of the last apply (``applied_from``); the plan says whether the TMS was changed
outside rtssync since (drift) or git holds changes not applied yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum

from rtssync.model import DesiredSubsidiary, LiveSubsidiary
from rtssync.plan import ChangeKind, Plan, PlanChange


class SyncState(StrEnum):
    IN_SYNC = "in sync"
    DRIFTED = "drifted"
    PENDING = "changes not applied"
    NOT_IN_TMS = "not in the TMS"
    UNMANAGED = "unmanaged"


@dataclass(frozen=True, slots=True)
class SubsidiaryStatus:
    key: str
    """File key, or ``tms:<id>`` for a TMS subsidiary without a file."""
    name: str
    tms_id: str | None
    applied_commit: str | None
    applied_at: str | None
    state: SyncState
    details: tuple[str, ...]
    """Drifted aspects (``noa``, ``credentials``...) or the pending changes' summaries."""

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["state"] = self.state.value
        data["details"] = list(self.details)
        return data


def _state(
    key: str, name: str, changes: Sequence[PlanChange], live: LiveSubsidiary | None
) -> SubsidiaryStatus:
    drift = [c for c in changes if c.kind is ChangeKind.DRIFT]
    pending = [c for c in changes if c.actionable and c.kind is not ChangeKind.DRIFT]
    if live is None:
        state, details = SyncState.NOT_IN_TMS, tuple(c.summary for c in pending)
    elif drift:
        state, details = SyncState.DRIFTED, tuple(sorted({c.aspect or "record" for c in drift}))
    elif pending:
        state, details = SyncState.PENDING, tuple(c.summary for c in pending)
    else:
        state, details = SyncState.IN_SYNC, ()
    applied = live.applied_from if live else None
    return SubsidiaryStatus(
        key=key, name=name, tms_id=live.tms_id if live else None,
        applied_commit=applied.commit if applied else None,
        applied_at=applied.applied_at if applied else None, state=state, details=details,
    )


def subsidiary_statuses(
    plan: Plan,
    desired: Mapping[str, DesiredSubsidiary],
    live: Sequence[LiveSubsidiary],
) -> list[SubsidiaryStatus]:
    """One status per file (in key order), then one per TMS subsidiary no file describes."""
    by_key: dict[str, list[PlanChange]] = defaultdict(list)
    for change in plan.changes:
        by_key[change.key].append(change)
    live_by_id = {item.tms_id: item for item in live}
    matched = {v.key: tms_id for tms_id, v in plan.live_versions.items() if v.key is not None}
    statuses = []
    for key in sorted(desired):
        tms_id = matched.get(key)
        found = live_by_id.get(tms_id) if tms_id else None
        statuses.append(_state(key, desired[key].fields.name, by_key[key], found))
    for item in live:
        if item.tms_id not in matched.values():
            statuses.append(SubsidiaryStatus(
                key=f"tms:{item.tms_id}", name=item.fields.name, tms_id=item.tms_id,
                applied_commit=item.applied_from.commit if item.applied_from else None,
                applied_at=item.applied_from.applied_at if item.applied_from else None,
                state=SyncState.UNMANAGED, details=(),
            ))
    return statuses


def render_status_text(statuses: Sequence[SubsidiaryStatus]) -> str:
    """A plain table a person reads in a terminal or a CI log."""
    header = ("SUBSIDIARY", "LAST APPLIED", "AT", "STATE")
    rows = [
        (
            s.key,
            (s.applied_commit or "never")[:12],
            s.applied_at or "-",
            s.state.value + (f": {'; '.join(s.details)}" if s.details else ""),
        )
        for s in statuses
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines) + "\n"
