"""Apply against the real local TMS (SQLite in tmp_path): order, failures, re-runs, limits."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from rtssync.apply import Outcome, apply_plan, check_hosts, check_safety, idempotency_key
from rtssync.config import SafetySettings
from rtssync.errors import PolicyError, RtssyncError, SafetyLimitError
from rtssync.journal import Journal, apply_lock
from rtssync.model import DesiredSubsidiary, FtpCredentials, LiveSubsidiary, Secret
from rtssync.plan import Action, ChangeKind, Plan, build_plan
from rtssync.tms.local import LocalBackend
from tests.conftest import CANARY_PASSWORD
from tests.plan_records import ALLOWED, ROOT, by_key, desired, ftp_settings, live_for, with_ftp


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    with LocalBackend(tmp_path / "tms.sqlite") as local:
        yield local


def canary_login(wanted: DesiredSubsidiary) -> FtpCredentials:
    return FtpCredentials(f"rts-{wanted.key}", Secret(CANARY_PASSWORD))


def plan_for(files: Sequence[DesiredSubsidiary], backend: LocalBackend, **options: object) -> Plan:
    return build_plan(by_key(*files), backend.list_subsidiaries(), root=ROOT,
                      allowed_hosts=ALLOWED, **options)  # type: ignore[arg-type]


def run(plan: Plan, files: Sequence[DesiredSubsidiary], backend: LocalBackend,
        live: Sequence[LiveSubsidiary] | None = None, journal: Journal | None = None,
        ) -> list[tuple[str, Outcome]]:
    result = apply_plan(plan, by_key(*files), backend.list_subsidiaries() if live is None else live,
                        backend, credentials=canary_login, allowed_hosts=ALLOWED,
                        commit="abc123", journal=journal)
    return [(r.change.id, r.outcome) for r in result.results]


def test_apply_creates_everything_then_the_plan_is_empty(backend: LocalBackend) -> None:
    files = [desired(1), desired(2)]
    outcomes = run(plan_for(files, backend), files, backend)
    assert {o for _, o in outcomes} == {Outcome.APPLIED}
    assert len(outcomes) == 8
    assert plan_for(files, backend).changes == ()
    (first, _) = backend.list_subsidiaries()
    assert first.applied_from is not None
    assert first.applied_from.commit == "abc123"
    assert backend.password_matches(first.tms_id, Secret(CANARY_PASSWORD))


def test_a_failing_change_skips_its_dependents_and_the_rest_still_run(
    backend: LocalBackend,
) -> None:
    broken = desired(1, fields=replace(desired(1).fields, name=" "))  # the TMS refuses it
    files = [broken, desired(2)]
    result = dict(run(plan_for(files, backend), files, backend))
    assert result["sub-1/create_subsidiary"] is Outcome.FAILED
    assert result["sub-1/set_noa"] is Outcome.SKIPPED
    assert result["sub-1/configure_ftp"] is Outcome.SKIPPED
    assert result["sub-2/configure_ftp"] is Outcome.APPLIED
    assert [s.fields.name for s in backend.list_subsidiaries()] == ["Subsidiary 2 LLC"]


def test_after_a_partial_apply_what_is_left_is_a_change_not_drift(backend: LocalBackend) -> None:
    files = [desired(1)]
    run(plan_for(files, backend), files, backend)
    time.sleep(0.01)
    edited = with_ftp(replace(desired(1), notice_of_assignment="x" * 10_001),  # TMS refuses
                      ftp=ftp_settings(port=2121))
    outcomes = dict(run(plan_for([edited], backend), [edited], backend))
    assert outcomes == {"sub-1/set_noa": Outcome.FAILED, "sub-1/update_ftp": Outcome.APPLIED}
    (left,) = plan_for([edited], backend).changes
    assert left.kind is ChangeKind.SET_NOA


def test_a_tms_change_between_plan_and_apply_is_refused_by_etag(backend: LocalBackend) -> None:
    files = [desired(1)]
    run(plan_for(files, backend), files, backend)
    edited = with_ftp(desired(1), ftp=ftp_settings(port=2121))
    stale_live = backend.list_subsidiaries()
    plan = plan_for([edited], backend)
    backend.ui_edit(stale_live[0].tms_id, notice_of_assignment="typed in the UI\n")
    outcomes = run(plan, [edited], backend, live=stale_live)
    assert outcomes == [("sub-1/update_ftp", Outcome.FAILED)]
    assert backend.list_subsidiaries()[0].rts_ftp.settings.port == 21  # type: ignore[union-attr]


def test_an_interrupted_apply_re_run_creates_nothing_twice(backend: LocalBackend) -> None:
    files = [desired(1)]
    plan = plan_for(files, backend)
    only_create = replace(plan, changes=plan.changes[:1])
    run(only_create, files, backend, live=[])  # "interrupted" right after the create
    run(plan, files, backend, live=[])  # the same plan again, from the same starting point
    assert len(backend.list_subsidiaries()) == 1
    assert plan_for(files, backend).changes == ()


def test_the_idempotency_key_follows_the_file_key_and_content() -> None:
    plan = build_plan(by_key(desired(1)), [], root=ROOT, allowed_hosts=ALLOWED,
                      desired_digests={"config/subsidiaries/sub-1.yaml": "a" * 64})
    create = plan.changes[0]
    assert idempotency_key(plan, create) == idempotency_key(plan, create)
    changed = replace(plan, desired_digests={"config/subsidiaries/sub-1.yaml": "b" * 64})
    assert idempotency_key(changed, create) != idempotency_key(plan, create)


def test_credentials_revision_is_stored_and_a_rotation_resends(backend: LocalBackend) -> None:
    files = [desired(1)]
    run(plan_for(files, backend), files, backend)
    rotated = with_ftp(desired(1), credentials=replace(
        desired(1).factoring.credentials, password_ciphertext="ENC[new]"))  # type: ignore[union-attr]
    plan = plan_for([rotated], backend)
    assert [c.kind for c in plan.changes] == [ChangeKind.ROTATE_CREDENTIALS]
    run(plan, [rotated], backend)
    assert plan_for([rotated], backend).changes == ()


def test_drift_from_a_ui_credentials_edit_is_fixed_by_apply(backend: LocalBackend) -> None:
    files = [desired(1)]
    run(plan_for(files, backend), files, backend)
    tms_id = backend.list_subsidiaries()[0].tms_id
    backend.ui_edit(tms_id, credentials=FtpCredentials("typed", Secret("in-the-ui")))
    plan = plan_for(files, backend)
    assert [c.kind for c in plan.changes] == [ChangeKind.DRIFT]
    run(plan, files, backend)
    assert plan_for(files, backend).changes == ()
    assert backend.password_matches(tms_id, Secret(CANARY_PASSWORD))


def test_drift_from_a_ui_noa_edit_shows_and_is_restored(backend: LocalBackend) -> None:
    files = [desired(1)]
    run(plan_for(files, backend), files, backend)
    time.sleep(0.01)  # the TMS's clock has millisecond resolution; people are slower than that
    backend.ui_edit(backend.list_subsidiaries()[0].tms_id, notice_of_assignment="UI text\n")
    (change,) = plan_for(files, backend).changes
    assert (change.kind, change.aspect) == (ChangeKind.DRIFT, "noa")
    run(plan_for(files, backend), files, backend)
    assert plan_for(files, backend).changes == ()


def test_a_host_outside_policy_stops_apply_before_any_write(backend: LocalBackend) -> None:
    files = [desired(1)]
    plan = plan_for(files, backend)
    moved = with_ftp(desired(1), ftp=ftp_settings(host="ftp.evil.example"))
    with pytest.raises(PolicyError, match=r"ftp\.evil\.example"):
        apply_plan(plan, by_key(moved), [], backend, credentials=canary_login,
                   allowed_hosts=ALLOWED, commit=None)
    assert backend.list_subsidiaries() == []
    with pytest.raises(PolicyError):
        check_hosts(plan, by_key(moved), ALLOWED)


def managed_plan(backend: LocalBackend, count: int, **options: object) -> tuple[
    Plan, list[DesiredSubsidiary]
]:
    files = [desired(n) for n in range(1, count + 1)]
    run(plan_for(files, backend), files, backend)
    return plan_for(files, backend, **options), files


def test_removals_need_prune(backend: LocalBackend) -> None:
    _, files = managed_plan(backend, 2)
    plan = plan_for(files[:1], backend, prune=True)
    assert [c.action for c in plan.changes] == [Action.REMOVE_FTP]
    with pytest.raises(SafetyLimitError, match=r"prune is false.*--force"):
        check_safety(plan, SafetySettings(), prune=False, force=False)
    check_safety(plan, SafetySettings(), prune=True, force=False)
    check_safety(plan, SafetySettings(), prune=False, force=True)


def test_max_deletes_caps_removals(backend: LocalBackend) -> None:
    _, files = managed_plan(backend, 3)
    plan = plan_for(files[:1], backend, prune=True)
    with pytest.raises(SafetyLimitError, match=r"safety\.max_deletes \(1\).*--force"):
        check_safety(plan, SafetySettings(max_deletes=1), prune=True, force=False)
    check_safety(plan, SafetySettings(max_deletes=2), prune=True, force=False)


def test_max_update_fraction_caps_updates_of_managed_subsidiaries(backend: LocalBackend) -> None:
    _, files = managed_plan(backend, 4)
    edited = [replace(f, notice_of_assignment="new text\n") for f in files]
    three = plan_for(edited[:3] + files[3:], backend)
    two = plan_for(edited[:2] + files[2:], backend)
    with pytest.raises(SafetyLimitError, match=r"changes 3 of 4.*max_update_fraction.*--force"):
        check_safety(three, SafetySettings(max_update_fraction=0.5), prune=False, force=False)
    check_safety(two, SafetySettings(max_update_fraction=0.5), prune=False, force=False)
    check_safety(three, SafetySettings(max_update_fraction=0.5), prune=False, force=True)


def test_a_single_update_never_trips_the_fraction(backend: LocalBackend) -> None:
    _, files = managed_plan(backend, 1)
    plan = plan_for([replace(files[0], notice_of_assignment="new\n")], backend)
    check_safety(plan, SafetySettings(max_update_fraction=0.1), prune=False, force=False)


def test_the_journal_is_owner_only_and_secret_free(backend: LocalBackend, tmp_path: Path) -> None:
    journal = Journal.for_repository(tmp_path)
    files = [desired(1)]
    run(plan_for(files, backend), files, backend, journal=journal)
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal.path.parent.stat().st_mode) == 0o700
    entries = journal.entries()
    assert [e["change_id"] for e in entries if e["event"] == "change"] == [
        "sub-1/create_subsidiary", "sub-1/set_invoicing", "sub-1/set_noa", "sub-1/configure_ftp"]
    assert entries[-1]["event"] == "recorded"
    assert CANARY_PASSWORD not in journal.path.read_text()


def test_a_second_apply_in_the_same_repository_fails_cleanly(tmp_path: Path) -> None:
    with (
        apply_lock(tmp_path),
        pytest.raises(RtssyncError, match="another rtssync apply"),
        apply_lock(tmp_path),
    ):
        pass  # pragma: no cover - never reached
    with apply_lock(tmp_path):
        pass  # released: the next apply proceeds


def test_live_for_is_in_sync_with_the_backend_shape() -> None:
    # Guard for the records used above: a freshly "applied" record plans no change.
    assert build_plan(by_key(desired(1)), [live_for(desired(1))], root=ROOT,
                      allowed_hosts=ALLOWED).changes == ()


def test_a_journal_line_cut_short_by_a_crash_does_not_hide_the_others(tmp_path: Path) -> None:
    journal = Journal.for_repository(tmp_path)
    journal.write({"event": "change", "change_id": "a"})
    with journal.path.open("a") as handle:
        handle.write('{"event": "change", "chan')
    assert [e["change_id"] for e in journal.entries()] == ["a"]
