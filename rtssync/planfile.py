"""Saved plans: the plan as a JSON document, with what it was computed from and a checksum.

The document is also what ``rtssync plan --format json`` prints (``schemas/plan.schema.json``),
so any JSON plan can be saved and applied. It holds no secret: credentials appear only as
``changed``/``unchanged`` and revisions (digests of ciphertext). What makes a plan stale is kept
beside the changes: the sha256 of every desired file and each live subsidiary's ETag and
credentials revision. The checksum (sha256 over the canonical JSON of everything else) catches
a plan edited by hand or damaged in transit, so apply never runs a change nobody reviewed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import jsonschema

from rtssync import __version__
from rtssync.diff import PlainValue
from rtssync.errors import RtssyncError, StalePlanError
from rtssync.plan import (
    PLAN_FORMAT_VERSION,
    Action,
    ChangeKind,
    LiveVersion,
    Plan,
    PlanChange,
    SecretState,
)
from rtssync.schema import load_schema

FORMAT_NAME = "rtssync-plan"
SCHEMA_NAME = "plan.schema.json"
CHECKSUM_PREFIX = "sha256:"


class PlanFileError(RtssyncError):
    """A plan file that cannot be read as a plan at all (not JSON, wrong format)."""


def _change_document(change: PlanChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "key": change.key,
        "kind": change.kind.value,
        "action": change.action.value,
        "summary": change.summary,
        "tms_id": change.tms_id,
        "source": change.source,
        "aspect": change.aspect,
        "before": dict(change.before) if change.before is not None else None,
        "after": dict(change.after) if change.after is not None else None,
        "secrets": {name: state.value for name, state in change.secrets.items()},
        "noa_diff": list(change.noa_diff),
        "warnings": list(change.warnings),
        "depends_on": list(change.depends_on),
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data, checksum included (``schemas/plan.schema.json``)."""
    document: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": PLAN_FORMAT_VERSION,
        "rtssync_version": __version__,
        "created_at": plan.created_at,
        "commit": plan.commit,
        "only": list(plan.only),
        "managed_count": plan.managed_count,
        "desired_files": dict(sorted(plan.desired_digests.items())),
        "live_versions": {
            tms_id: {
                "etag": version.etag,
                "credentials_revision": version.credentials_revision,
                "key": version.key,
            }
            for tms_id, version in sorted(plan.live_versions.items())
        },
        "summary": {"changes": len(plan.actionable), "by_kind": plan.counts()},
        "changes": [_change_document(change) for change in plan.changes],
    }
    document["checksum"] = checksum(document)
    return document


def checksum(document: Mapping[str, Any]) -> str:
    """sha256 over the canonical JSON (sorted keys, no blanks) of everything but the checksum."""
    body = {k: v for k, v in document.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return CHECKSUM_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def dumps(plan: Plan) -> str:
    return json.dumps(plan_document(plan), indent=2, ensure_ascii=False) + "\n"


def write_plan(plan: Plan, path: Path) -> None:
    """Write the plan file (owner-only: it names hosts and subsidiaries, though no secret)."""
    text = dumps(plan)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # O_CREAT's mode applies to new files only; an old one keeps its own
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise PlanFileError(
            f"{path}: cannot write the plan ({error.strerror or error}); check that the "
            "folder exists and is writable"
        ) from None


def _values(raw: object) -> Mapping[str, PlainValue] | None:
    return None if raw is None else cast(dict[str, PlainValue], raw)


def _change_from(raw: Mapping[str, Any]) -> PlanChange:
    return PlanChange(
        id=str(raw["id"]), key=str(raw["key"]), kind=ChangeKind(raw["kind"]),
        action=Action(raw["action"]), summary=str(raw["summary"]), tms_id=raw.get("tms_id"),
        source=raw.get("source"), aspect=raw.get("aspect"), before=_values(raw.get("before")),
        after=_values(raw.get("after")),
        secrets={str(k): SecretState(v) for k, v in raw.get("secrets", {}).items()},
        noa_diff=tuple(raw.get("noa_diff", ())), warnings=tuple(raw.get("warnings", ())),
        depends_on=tuple(raw.get("depends_on", ())),
    )


def _shape_problem(document: Mapping[str, Any]) -> str | None:
    """The first way ``document`` breaks ``schemas/plan.schema.json``, if any."""
    validator = jsonschema.Draft202012Validator(load_schema(SCHEMA_NAME))
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"{where}: {error.message}"


def plan_from_document(document: Mapping[str, Any]) -> Plan:
    """Rebuild a Plan; refuses a document whose checksum does not match (StalePlanError)."""
    if document.get("format") != FORMAT_NAME:
        raise PlanFileError("not an rtssync plan file (format is not 'rtssync-plan')")
    if document.get("format_version") != PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"plan file format {document.get('format_version')!r} is not supported by this "
            f"rtssync (expects {PLAN_FORMAT_VERSION}); make a new plan"
        )
    if document.get("checksum") != checksum(document):
        raise StalePlanError(
            "stale plan: the plan file's checksum does not match its content (edited or "
            "damaged); nothing applied. Make a new plan with `rtssync plan --out FILE`."
        )
    problem = _shape_problem(document)
    if problem is not None:
        raise PlanFileError(f"the plan file is not a valid rtssync plan: {problem}")
    try:
        return Plan(
            changes=tuple(_change_from(raw) for raw in document["changes"]),
            commit=document.get("commit"),
            desired_digests=dict(document["desired_files"]),
            live_versions={
                tms_id: LiveVersion(v["etag"], v.get("credentials_revision"), v.get("key"))
                for tms_id, v in document["live_versions"].items()
            },
            managed_count=int(document["managed_count"]),
            only=tuple(document.get("only", ())),
            created_at=str(document.get("created_at", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise PlanFileError(f"the plan file is not a valid rtssync plan ({error!r})") from None


def read_plan(path: Path) -> Plan:
    """Read and check a saved plan: format, version and checksum."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PlanFileError(f"cannot read plan file {path}: {error.strerror}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanFileError(f"{path}:{error.lineno}:{error.colno}: not JSON: {error.msg}") from None
    if not isinstance(document, dict):
        raise PlanFileError(f"{path}: not an rtssync plan file (not a JSON object)")
    try:
        return plan_from_document(document)
    except (PlanFileError, StalePlanError) as error:
        # Name the file: the reader may hold several plans, and the message alone does not say
        # which one was refused.
        raise type(error)(f"{path}: {error}") from None


def current_commit(root: Path) -> str | None:
    """HEAD of the git repository at ``root``, or None outside git (or without git)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=root, capture_output=True,
            text=True, check=False, timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def stale_reasons(saved: Plan, current: Plan) -> list[str]:
    """Why ``saved`` no longer describes the world ``current`` was computed from (empty: fresh).

    Desired files: added, removed or changed bytes. Live: any subsidiary added, removed, or with
    a different ETag or credentials revision. Changes: the same inputs must give the same
    changes; if they do not (another rtssync version) the plan is not trusted either.
    """
    reasons = []
    for path in sorted(set(saved.desired_digests) | set(current.desired_digests)):
        before, after = saved.desired_digests.get(path), current.desired_digests.get(path)
        if before != after:
            state = "added" if before is None else "removed" if after is None else "changed"
            reasons.append(f"desired file {path} {state} since the plan was made")
    for tms_id in sorted(set(saved.live_versions) | set(current.live_versions)):
        before_v, after_v = saved.live_versions.get(tms_id), current.live_versions.get(tms_id)
        if before_v is None:
            reasons.append(f"TMS subsidiary {tms_id} appeared since the plan was made")
        elif after_v is None:
            reasons.append(f"TMS subsidiary {tms_id} disappeared since the plan was made")
        elif (before_v.etag, before_v.credentials_revision) != (
            after_v.etag, after_v.credentials_revision
        ):
            reasons.append(f"TMS subsidiary {tms_id} changed since the plan was made (ETag)")
    if not reasons and _what_runs(saved) != _what_runs(current):
        reasons.append("the same inputs now give different changes (another rtssync version?)")
    return reasons


def _what_runs(plan: Plan) -> list[tuple[object, ...]]:
    """What apply executes for each change: a saved plan may only ever run these.

    The checksum catches accidents, not intent (anyone can recompute a sha256), so apply only
    trusts a saved plan whose writes are exactly those the same inputs produce now.
    """
    return [(c.id, c.key, c.kind, c.action, c.tms_id, c.depends_on) for c in plan.changes]
