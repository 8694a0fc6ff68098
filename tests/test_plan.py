"""The plan: every kind of change, credentials without keys, drift, policy and ordering."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest

from rtssync.errors import ConfigError, RtssyncError
from rtssync.model import (
    AppliedFrom,
    DesiredSubsidiary,
    FtpProtocol,
    Invoicing,
    InvoicingMethod,
    LiveFtp,
    LiveSubsidiary,
    SubsidiaryFields,
)
from rtssync.plan import Action, ChangeKind, Plan, SecretState, build_plan
from tests.plan_records import (
    ALLOWED,
    ROOT,
    by_key,
    credentials,
    desired,
    ftp_settings,
    live_for,
    with_ftp,
)


def plan_of(
    files: Sequence[DesiredSubsidiary], live: Sequence[LiveSubsidiary], **options: object
) -> Plan:
    return build_plan(by_key(*files), live, root=ROOT, allowed_hosts=ALLOWED, **options)  # type: ignore[arg-type]


def kinds(plan: Plan) -> list[tuple[str, ChangeKind]]:
    return [(c.key, c.kind) for c in plan.changes]


def test_in_sync_means_no_changes() -> None:
    wanted = desired(1)
    plan = plan_of([wanted], [live_for(wanted)])
    assert plan.changes == ()
    assert not plan.has_changes
    assert plan.managed_count == 1


def test_a_new_subsidiary_is_created_before_anything_is_set_on_it() -> None:
    plan = plan_of([desired(1)], [])
    assert kinds(plan) == [
        ("sub-1", ChangeKind.CREATE_SUBSIDIARY),
        ("sub-1", ChangeKind.SET_INVOICING),
        ("sub-1", ChangeKind.SET_NOA),
        ("sub-1", ChangeKind.CONFIGURE_FTP),
    ]
    create = plan.changes[0]
    assert create.id == "sub-1/create_subsidiary"
    assert create.after == {"name": "Subsidiary 1 LLC", "mc_number": "100001",
                            "dot_number": "2000001"}
    assert create.source == "config/subsidiaries/sub-1.yaml"
    for later in plan.changes[1:]:
        assert later.depends_on == (create.id,)
    configure = plan.changes[3]
    assert configure.action is Action.PUT_FTP_CREDENTIALS
    assert configure.secrets == {"username": "changed", "password": "changed"}
    assert configure.after is not None
    assert configure.after["host"] == "devftp.rtsfinancial.com"
    assert any("in clear" in w for w in configure.warnings)  # plain FTP


def test_changed_fields_show_before_and_after_of_only_what_changed() -> None:
    wanted = desired(1)
    live = live_for(wanted, fields=replace(wanted.fields, name="Old Name"))
    (change,) = plan_of([wanted], [live]).changes
    assert change.kind is ChangeKind.UPDATE_FIELDS
    assert (change.before, change.after) == ({"name": "Old Name"}, {"name": "Subsidiary 1 LLC"})
    assert change.tms_id == live.tms_id


def test_a_noa_edit_is_a_line_diff() -> None:
    wanted = desired(1)
    live = live_for(wanted, notice_of_assignment=wanted.notice_of_assignment.replace(
        "P.O. Box 840267", "P.O. Box 111111"))
    (change,) = plan_of([wanted], [live]).changes
    assert change.kind is ChangeKind.SET_NOA
    assert "-P.O. Box 111111" in change.noa_diff
    assert "+P.O. Box 840267" in change.noa_diff
    assert " RTS Financial Service, Inc." in change.noa_diff  # context kept
    assert "(+1 -1 lines)" in change.summary


def test_invoicing_not_factoring_is_set() -> None:
    wanted = desired(1)
    live = live_for(wanted, invoicing=Invoicing(InvoicingMethod.EMAIL, False))
    (change,) = plan_of([wanted], [live]).changes
    assert change.kind is ChangeKind.SET_INVOICING
    assert change.before == {"method": "email", "auto_merge": False}
    assert change.after == {"method": "factoring", "auto_merge": True}


def test_ftp_missing_in_the_tms_is_configured() -> None:
    wanted = desired(1)
    (change,) = plan_of([wanted], [live_for(wanted, rts_ftp=None)]).changes
    assert change.kind is ChangeKind.CONFIGURE_FTP
    assert change.depends_on == ()


def test_ftp_settings_change_keeps_the_stored_login() -> None:
    wanted = with_ftp(desired(1), ftp=ftp_settings(port=2121))
    live = live_for(desired(1))
    (change,) = plan_of([wanted], [live]).changes
    assert change.kind is ChangeKind.UPDATE_FTP
    assert change.action is Action.PUT_FTP_SETTINGS
    assert (change.before, change.after) == ({"port": 21}, {"port": 2121})
    assert change.warnings == ()


def test_a_host_change_for_existing_credentials_is_flagged() -> None:
    moved = ftp_settings(host="ftp2.rtsfinancial.com")
    wanted = with_ftp(desired(1), ftp=moved)
    (change,) = plan_of([wanted], [live_for(desired(1))]).changes
    assert any("credentials will be sent to a NEW host" in w and "ftp2.rtsfinancial.com" in w
               for w in change.warnings)


def test_credentials_re_encrypted_in_git_rotate_without_any_key() -> None:
    applied = desired(1)
    wanted = with_ftp(applied, credentials=credentials(1, 2))
    (change,) = plan_of([wanted], [live_for(applied)]).changes
    assert change.kind is ChangeKind.ROTATE_CREDENTIALS
    assert change.action is Action.PUT_FTP_CREDENTIALS
    assert change.secrets == {"username": "changed", "password": "changed"}
    assert change.before is None
    assert change.after is None


def test_a_new_login_goes_out_with_new_settings_before_a_settings_only_write() -> None:
    applied = desired(1)
    wanted = with_ftp(applied, credentials=credentials(1, 2),
                      ftp=ftp_settings(host="ftp2.rtsfinancial.com"))
    rotate, update = plan_of([wanted], [live_for(applied)]).changes
    assert (rotate.kind, update.kind) == (ChangeKind.ROTATE_CREDENTIALS, ChangeKind.UPDATE_FTP)
    assert update.depends_on == (rotate.id,)  # a failed rotation keeps the old host
    assert any("NEW host" in w for w in rotate.warnings)


def test_usernames_read_back_with_keys_show_which_secret_changed() -> None:
    applied = desired(1)
    wanted = with_ftp(applied, credentials=credentials(1, 2))

    def usernames(files: Sequence[DesiredSubsidiary]) -> Mapping[str, str]:
        return {f.key: "user-of-sub-1" for f in files}

    (change,) = plan_of([wanted], [live_for(applied)], decrypt_usernames=usernames).changes
    assert change.secrets == {"username": "unchanged", "password": "changed"}


def test_a_username_changed_in_the_tms_is_drift_when_keys_are_present() -> None:
    wanted = desired(1)
    (change,) = plan_of(
        [wanted], [live_for(wanted)], decrypt_usernames=lambda files: {"sub-1": "someone-else"}
    ).changes
    assert change.kind is ChangeKind.DRIFT
    assert change.aspect == "credentials"
    assert change.secrets["username"] is SecretState.CHANGED


def test_credentials_revision_cleared_by_a_ui_edit_is_drift_fixed_by_resending() -> None:
    wanted = desired(1)
    live = live_for(wanted)
    assert live.rts_ftp is not None
    edited = replace(live, rts_ftp=replace(live.rts_ftp, credentials_revision=None))
    (change,) = plan_of([wanted], [edited]).changes
    assert change.kind is ChangeKind.DRIFT
    assert change.id == "sub-1/drift:credentials"
    assert change.action is Action.PUT_FTP_CREDENTIALS
    assert "outside rtssync" in change.summary


def test_a_value_edited_in_the_tms_after_the_last_apply_is_drift() -> None:
    wanted = desired(1)
    edited = live_for(wanted, notice_of_assignment="typed in the UI\n",
                      updated_at="2026-01-02T00:00:00.000Z")
    (change,) = plan_of([wanted], [edited]).changes
    assert change.kind is ChangeKind.DRIFT
    assert change.aspect == "noa"
    assert change.action is Action.SET_NOA
    assert "-typed in the UI" in change.noa_diff


def test_without_a_later_tms_edit_a_difference_is_an_ordinary_change() -> None:
    wanted = desired(1)
    live = live_for(wanted, notice_of_assignment="older text\n",
                    applied_from=AppliedFrom("c0ffee", "2026-01-03T00:00:00Z"),
                    updated_at="2026-01-02T00:00:00.000Z")
    (change,) = plan_of([wanted], [live]).changes
    assert change.kind is ChangeKind.SET_NOA


def test_a_tms_subsidiary_without_a_file_is_unmanaged_and_informational() -> None:
    stranger = live_for(desired(9), "T-9", applied_from=None)
    (change,) = plan_of([], [stranger]).changes
    assert change.kind is ChangeKind.UNMANAGED
    assert change.key == "tms:T-9"
    assert change.action is Action.NONE
    assert not plan_of([], [stranger]).has_changes


def test_a_removed_file_removes_nothing_without_prune() -> None:
    formerly_managed = live_for(desired(9), "T-9")
    (change,) = plan_of([], [formerly_managed]).changes
    assert change.kind is ChangeKind.UNMANAGED
    assert "prune: true" in change.summary


def test_with_prune_a_removed_file_removes_its_rts_ftp() -> None:
    formerly_managed = live_for(desired(9), "T-9")
    (change,) = plan_of([], [formerly_managed], prune=True).changes
    assert change.kind is ChangeKind.REMOVE_FTP
    assert change.action is Action.REMOVE_FTP
    assert change.before is not None
    assert change.before["host"] == "devftp.rtsfinancial.com"


def test_prune_never_dismantles_a_subsidiary_rtssync_never_applied() -> None:
    hand_made = live_for(desired(9), "T-9", applied_from=None)
    (change,) = plan_of([], [hand_made], prune=True).changes
    assert change.kind is ChangeKind.UNMANAGED


def test_a_file_without_factoring_removes_rts_ftp_only_with_prune() -> None:
    wanted = desired(1, factoring=None)
    live = live_for(desired(1))
    (kept,) = plan_of([wanted], [live]).changes
    assert (kept.kind, kept.action) == (ChangeKind.UNMANAGED, Action.NONE)
    (removed,) = plan_of([wanted], [live], prune=True).changes
    assert removed.kind is ChangeKind.REMOVE_FTP


def test_a_host_outside_policy_is_an_error_at_its_line() -> None:
    wanted = with_ftp(desired(1), ftp=ftp_settings(host="ftp.evil.example"))
    with pytest.raises(ConfigError) as caught:
        plan_of([wanted], [])
    assert f"{wanted.source}:6:1" in str(caught.value)
    assert "ftp.evil.example" in str(caught.value)


def test_only_limits_the_plan_to_the_named_subsidiaries() -> None:
    plan = plan_of([desired(1), desired(2)], [], only=["sub-2"])
    assert {c.key for c in plan.changes} == {"sub-2"}
    with pytest.raises(RtssyncError, match="nope"):
        plan_of([desired(1)], [], only=["nope"])


def test_subsidiaries_come_in_key_order_and_tms_only_ones_last() -> None:
    stranger = live_for(desired(0), "T-0", applied_from=None)
    plan = plan_of([desired(2), desired(1)], [stranger])
    keys = [c.key for c in plan.changes]
    assert keys == [*sorted(keys[:-1]), "tms:T-0"]


def test_every_change_id_is_unique_and_stable() -> None:
    files = [desired(1), desired(2)]
    live = [live_for(desired(2), fields=SubsidiaryFields("x", "100002", "2000002"))]
    first, second = plan_of(files, live), plan_of(files, live)
    ids = [c.id for c in first.changes]
    assert len(ids) == len(set(ids))
    assert ids == [c.id for c in second.changes]


def test_live_versions_record_etag_and_credentials_revision() -> None:
    wanted = desired(1)
    live = live_for(wanted)
    version = plan_of([wanted], [live]).live_versions[live.tms_id]
    assert version.etag == live.etag
    assert version.credentials_revision == wanted.factoring.credentials.revision  # type: ignore[union-attr]
    assert version.key == "sub-1"


def test_sftp_needs_no_plain_text_warning() -> None:
    wanted = with_ftp(desired(1), ftp=ftp_settings(
        protocol=FtpProtocol.SFTP, port=22, host_key="ssh-ed25519 AAAA"))
    live = live_for(wanted, rts_ftp=LiveFtp(ftp_settings(), "u", True, None))
    changes = plan_of([wanted], [live]).changes
    assert [c.kind for c in changes] == [ChangeKind.DRIFT, ChangeKind.UPDATE_FTP]
    assert not any("in clear" in w for c in changes for w in c.warnings)


def test_data_flows_one_way() -> None:
    """The plan never reaches forward (apply, render, the TMS); renderers never reach the TMS."""
    probe = (
        "import sys, importlib; importlib.import_module(sys.argv[1]); "
        "print(' '.join(m for m in sys.modules if m.startswith('rtssync.')))"
    )
    for module, forbidden in (
        ("rtssync.plan", ("rtssync.apply", "rtssync.render", "rtssync.tms", "rtssync.sops")),
        ("rtssync.render.markdown", ("rtssync.apply", "rtssync.tms")),
        ("rtssync.render.text", ("rtssync.apply", "rtssync.tms")),
        ("rtssync.planfile", ("rtssync.apply", "rtssync.tms")),
    ):
        loaded = subprocess.run([sys.executable, "-c", probe, module], capture_output=True,
                                text=True, check=True).stdout.split()
        assert not [m for m in loaded if m.startswith(forbidden)], (module, loaded)
