"""The local backend against a model: random sequences of writes, fresh and stale ETags.

A hypothesis state machine drives :class:`LocalBackend` and a plain-Python model of what the TMS
should hold side by side; after every step the whole live state must equal the model. This finds
what example tests miss: a write that forgets to bump the version, a stale ETag let through
after some particular sequence, a login kept or dropped when it should not be.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from rtssync.errors import ConflictError, TmsError
from rtssync.model import (
    AppliedFrom,
    FtpCredentials,
    FtpProtocol,
    FtpSettings,
    Invoicing,
    InvoicingMethod,
    LiveFtp,
    LiveSubsidiary,
    Secret,
    SubsidiaryFields,
)
from rtssync.tms.local import LocalBackend

from .contract import sample_fields

LOGINS = {  # password -> (username, revision): neither may reveal the password
    "Secret-Alpha-1": ("user-a", "cr1-aaa"),
    "Secret-Béta-2": ("user-b", "cr1-bbb"),
    "Secret-Γάμμα-3": ("user-c", "cr1-ccc"),
}
PASSWORDS = st.sampled_from(sorted(LOGINS))
FIELDS = st.integers(0, 3).map(sample_fields)
NOTICES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1).filter(
    str.strip
)
INVOICINGS = st.builds(Invoicing, st.sampled_from(InvoicingMethod), st.booleans())
SETTINGS = st.builds(
    FtpSettings,
    st.sampled_from(FtpProtocol),
    st.sampled_from(["a.rtsfinancial.com", "b.rtsfinancial.com"]),
    st.integers(1, 65_535),
    st.sampled_from(["/in", "/incoming"]),
    st.none() | st.just("ssh-ed25519 AAAAkey"),
)


@dataclass
class Expected:
    """What the TMS should hold for one subsidiary (the password kept beside, never compared
    with a read, only through ``password_matches``)."""

    fields: SubsidiaryFields
    version: int = 1
    notice: str | None = None
    invoicing: Invoicing | None = None
    ftp: FtpSettings | None = None
    username: str | None = None
    password: str | None = None
    revision: str | None = None
    applied: AppliedFrom | None = None

    def as_live(self, tms_id: str) -> LiveSubsidiary:
        ftp = None
        if self.ftp is not None:
            ftp = LiveFtp(self.ftp, self.username, self.password is not None, self.revision)
        return LiveSubsidiary(
            tms_id=tms_id,
            fields=self.fields,
            notice_of_assignment=self.notice,
            invoicing=self.invoicing,
            rts_ftp=ftp,
            etag=f'"v{self.version}"',
            applied_from=self.applied,
        )


class LocalBackendModel(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.backend = LocalBackend(Path(self.folder.name) / "tms.sqlite")
        self.model: dict[str, Expected] = {}
        self.keys: dict[str, tuple[str, SubsidiaryFields]] = {}

    def teardown(self) -> None:
        self.backend.close()
        self.folder.cleanup()

    def etag(self, tms_id: str, stale: bool) -> str:
        version = self.model[tms_id].version
        return f'"v{version - 1 if stale else version}"'

    def write(
        self, tms_id: str, stale: bool, expected: Expected, do: Callable[[str], object]
    ) -> None:
        """Run a write (``do`` takes the etag); on a fresh etag the model becomes ``expected``
        with the version bumped, on a stale one it must be a conflict and change nothing."""
        if stale:
            try:
                do(self.etag(tms_id, stale=True))
            except ConflictError:
                return
            raise AssertionError("a stale ETag was accepted")
        do(self.etag(tms_id, stale=False))
        self.model[tms_id] = dataclasses.replace(expected, version=expected.version + 1)

    @rule(target=ids, fields=FIELDS, key=st.sampled_from(["k1", "k2", "k3", "k4", "k5"]))
    def create(self, fields: SubsidiaryFields, key: str) -> str:
        if key in self.keys and self.keys[key][1] != fields:
            try:
                self.backend.create_subsidiary(fields, idempotency_key=key)
            except ConflictError as wrong:
                raise AssertionError("a reused key is not a conflict") from wrong
            except TmsError:
                return self.keys[key][0]
            raise AssertionError("a reused key with other fields was accepted")
        made = self.backend.create_subsidiary(fields, idempotency_key=key)
        if key in self.keys:
            assert made.tms_id == self.keys[key][0]
        else:
            self.keys[key] = (made.tms_id, fields)
            self.model[made.tms_id] = Expected(fields=fields)
        return made.tms_id

    @rule(tms_id=ids, stale=st.booleans(), fields=FIELDS)
    def update(self, tms_id: str, stale: bool, fields: SubsidiaryFields) -> None:
        expected = dataclasses.replace(self.model[tms_id], fields=fields)
        self.write(
            tms_id,
            stale,
            expected,
            lambda e: self.backend.update_subsidiary(tms_id, fields, if_match=e),
        )

    @rule(tms_id=ids, stale=st.booleans(), text=NOTICES)
    def notice(self, tms_id: str, stale: bool, text: str) -> None:
        expected = dataclasses.replace(self.model[tms_id], notice=text)
        self.write(
            tms_id,
            stale,
            expected,
            lambda e: self.backend.set_notice_of_assignment(tms_id, text, if_match=e),
        )

    @rule(tms_id=ids, stale=st.booleans(), invoicing=INVOICINGS)
    def invoicing(self, tms_id: str, stale: bool, invoicing: Invoicing) -> None:
        expected = dataclasses.replace(self.model[tms_id], invoicing=invoicing)
        self.write(
            tms_id,
            stale,
            expected,
            lambda e: self.backend.set_invoicing(tms_id, invoicing, if_match=e),
        )

    @rule(tms_id=ids, stale=st.booleans(), ftp=SETTINGS, password=st.none() | PASSWORDS)
    def put_ftp(self, tms_id: str, stale: bool, ftp: FtpSettings, password: str | None) -> None:
        current = self.model[tms_id]
        login = None if password is None else FtpCredentials(LOGINS[password][0], Secret(password))
        revision = None if password is None else LOGINS[password][1]
        if password is None and current.password is None and not stale:
            try:
                self.backend.put_rts_ftp(
                    tms_id, ftp, credentials=None, credentials_revision=None,
                    if_match=self.etag(tms_id, stale=False),
                )  # fmt: skip
            except ConflictError as wrong:
                raise AssertionError("a missing login is not a conflict") from wrong
            except TmsError:
                return
            raise AssertionError("RTS FTP was configured without a login")
        expected = dataclasses.replace(current, ftp=ftp)
        if login is not None:
            expected = dataclasses.replace(
                expected, username=login.username, password=password, revision=revision
            )
        self.write(
            tms_id,
            stale,
            expected,
            lambda e: self.backend.put_rts_ftp(
                tms_id, ftp, credentials=login, credentials_revision=revision, if_match=e
            ),
        )

    @rule(tms_id=ids, stale=st.booleans())
    def remove_ftp(self, tms_id: str, stale: bool) -> None:
        expected = dataclasses.replace(
            self.model[tms_id], ftp=None, username=None, password=None, revision=None
        )
        self.write(
            tms_id, stale, expected, lambda e: self.backend.remove_rts_ftp(tms_id, if_match=e)
        )

    @rule(tms_id=ids, stale=st.booleans(), commit=st.sampled_from(["abc1234", "def5678"]))
    def record_applied(self, tms_id: str, stale: bool, commit: str) -> None:
        applied = AppliedFrom(commit, "2026-01-02T03:04:05Z")
        expected = dataclasses.replace(self.model[tms_id], applied=applied)
        self.write(
            tms_id,
            stale,
            expected,
            lambda e: self.backend.record_applied(tms_id, applied, if_match=e),
        )

    @rule(tms_id=ids, password=PASSWORDS)
    def ui_credentials(self, tms_id: str, password: str) -> None:
        current = self.model[tms_id]
        login = FtpCredentials("typed-in-ui", Secret(password))
        if current.ftp is None:
            try:
                self.backend.ui_edit(tms_id, credentials=login)
            except TmsError:
                return
            raise AssertionError("UI credentials were stored without FTP settings")
        self.backend.ui_edit(tms_id, credentials=login)
        self.model[tms_id] = dataclasses.replace(
            current,
            username="typed-in-ui",
            password=password,
            revision=None,
            version=current.version + 1,
        )

    @invariant()
    def the_tms_holds_exactly_the_model(self) -> None:
        live = self.backend.list_subsidiaries()
        assert [s.tms_id for s in live] == list(self.model)
        for sub in live:
            expected = self.model[sub.tms_id]
            assert dataclasses.replace(sub, updated_at=None) == expected.as_live(sub.tms_id)
            if expected.password is not None:
                assert self.backend.password_matches(sub.tms_id, Secret(expected.password))
            assert "Secret-" not in repr(sub)


TestLocalBackendModel = LocalBackendModel.TestCase
TestLocalBackendModel.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
