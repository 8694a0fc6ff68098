"""The TMS backend contract: what every :class:`~rtssync.tms.base.TmsBackend` must do.

The engine relies on exactly these behaviours (ETags catch changes made between plan and apply,
creates are idempotent, passwords are write-only), so every backend runs this same suite.

How to plug a backend in
------------------------
Subclass :class:`TmsContract` in a ``test_*.py`` module under ``tests/`` and override the
``backend`` fixture. It must yield a backend over a **fresh, empty TMS** for every test and may
clean up after the ``yield``. The http backend does it like this (``tests/tms/test_http.py``)::

    from .contract import TmsContract, TmsSide
    from .server_fixture import RunningServer, run_server


    class TestHttpBackendContract(TmsContract):
        @pytest.fixture
        def server(self, tmp_path: Path) -> Iterator[RunningServer]:
            with run_server(tmp_path / "tms.sqlite", rate_limit=5000.0) as server:
                yield server                                # real server on 127.0.0.1

        @pytest.fixture
        def backend(self, server: RunningServer) -> Iterator[TmsBackend]:
            client = HttpBackend(server.url, ...)
            yield client
            client.close()

        @pytest.fixture
        def tms_side(self, server: RunningServer) -> Iterator[TmsSide]:
            # Optional: the store behind the server (a LocalBackend), to make "UI" edits and
            # check stored passwords. Without this override the tests that need it are skipped.
            yield server.store

The suite creates up to :attr:`TmsContract.many_subsidiaries` (250) subsidiaries in one test, so
a rate-limited server must either allow that in reasonable time or the client must honour 429
Retry-After (which it should anyway). Lower the attribute in a subclass only for a backend that
cannot do better, and say why.

Stable names other suites import from here: :class:`TmsContract`, :class:`TmsSide`, ``Write``,
``EVERY_WRITE``, ``FTP``, ``SFTP``, ``FACTORING``, ``APPLIED``, ``UNICODE_NOTICE``,
``SAMPLE_PASSWORD``, :func:`sample_fields`, :func:`login`, :func:`new_key`.

Everything here talks to the backend through the protocol only; the only backend-specific hook
is ``tms_side``, typed by the small :class:`TmsSide` protocol that
:class:`~rtssync.tms.local.LocalBackend` satisfies.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import ClassVar, Protocol

import pytest

from rtssync.errors import ConflictError, NotFoundError, TmsError
from rtssync.model import (
    AppliedFrom,
    FtpCredentials,
    FtpProtocol,
    FtpSettings,
    Invoicing,
    InvoicingMethod,
    LiveSubsidiary,
    Secret,
    SubsidiaryFields,
)
from rtssync.tms.base import TmsBackend


class TmsSide(Protocol):
    """What the TMS itself can do that rtssync's protocol cannot: edit as a person would in the
    UI, and check a stored password without any API that returns one."""

    def ui_edit(
        self,
        tms_id: str,
        *,
        fields: SubsidiaryFields | None = None,
        notice_of_assignment: str | None = None,
        invoicing: Invoicing | None = None,
        ftp_settings: FtpSettings | None = None,
        credentials: FtpCredentials | None = None,
        remove_ftp: bool = False,
    ) -> LiveSubsidiary: ...

    def password_matches(self, tms_id: str, candidate: Secret) -> bool: ...


# -- sample data ----------------------------------------------------------------------------------

FTP = FtpSettings(
    protocol=FtpProtocol.FTP, host="devftp.rtsfinancial.com", port=21, directory="/in"
)
SFTP = FtpSettings(
    protocol=FtpProtocol.SFTP,
    host="sftp.rtsfinancial.com",
    port=22,
    directory="/incoming/batches",
    host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
)
FACTORING = Invoicing(method=InvoicingMethod.FACTORING, auto_merge=True)
UNICODE_NOTICE = (
    "NOTICE OF ASSIGNMENT: Ce compte a été cédé — payez uniquement à RTS Financial.\n"
    "Zahlung nur an RTS · 支払いはRTSのみ · ✅ 🚚\n"
    "Tabs\tand \"quotes\" and 'apostrophes' and back\\slashes & <angle> brackets.\n"
)
APPLIED = AppliedFrom(
    commit="0123456789abcdef0123456789abcdef01234567", applied_at="2026-01-02T03:04:05Z"
)


SAMPLE_PASSWORD = "s3cret-Pass"


def sample_fields(n: int = 1) -> SubsidiaryFields:
    """Distinct, realistic fields; MC and DOT numbers as strings with a leading zero."""
    return SubsidiaryFields(
        name=f"Subsidiary {n:03d} Freight LLC",
        mc_number=f"0{100000 + n}",
        dot_number=f"0{2000000 + n}",
    )


def login(password: str = SAMPLE_PASSWORD, username: str = "rts_user_1") -> FtpCredentials:
    return FtpCredentials(username=username, password=Secret(password))


def new_key() -> str:
    return "idem-" + uuid.uuid4().hex


Write = Callable[[TmsBackend, str, str], LiveSubsidiary]
"""One versioned write: (backend, tms_id, if_match) -> the subsidiary as it now is."""

EVERY_WRITE: dict[str, Write] = {
    "update_subsidiary": lambda b, i, e: b.update_subsidiary(i, sample_fields(99), if_match=e),
    "set_notice_of_assignment": lambda b, i, e: b.set_notice_of_assignment(
        i, "NOTICE: pay RTS", if_match=e
    ),
    "set_invoicing": lambda b, i, e: b.set_invoicing(i, FACTORING, if_match=e),
    "put_rts_ftp": lambda b, i, e: b.put_rts_ftp(
        i, FTP, credentials=login(), credentials_revision="cr1-a", if_match=e
    ),
    "remove_rts_ftp": lambda b, i, e: b.remove_rts_ftp(i, if_match=e),
    "record_applied": lambda b, i, e: b.record_applied(i, APPLIED, if_match=e),
}


class TmsContract:
    """The contract suite. Subclass it and override ``backend`` (see the module docstring)."""

    many_subsidiaries: ClassVar[int] = 250

    @pytest.fixture
    def backend(self) -> Iterator[TmsBackend]:
        raise NotImplementedError(
            "override the `backend` fixture: yield a backend over an empty TMS"
        )

    @pytest.fixture
    def tms_side(self) -> Iterator[TmsSide]:
        pytest.skip("this backend's suite offers no TMS-side hooks (override `tms_side`)")

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def create(backend: TmsBackend, n: int = 1) -> LiveSubsidiary:
        return backend.create_subsidiary(sample_fields(n), idempotency_key=new_key())

    @staticmethod
    def configured(backend: TmsBackend, password: str = SAMPLE_PASSWORD) -> LiveSubsidiary:
        """A subsidiary with NOA, invoicing and RTS FTP (with a login) all set."""
        sub = TmsContract.create(backend)
        sub = backend.set_notice_of_assignment(sub.tms_id, UNICODE_NOTICE, if_match=sub.etag)
        sub = backend.set_invoicing(sub.tms_id, FACTORING, if_match=sub.etag)
        return backend.put_rts_ftp(
            sub.tms_id,
            FTP,
            credentials=login(password),
            credentials_revision="cr1-a",
            if_match=sub.etag,
        )

    # -- reads and creates ----------------------------------------------------------------------

    def test_a_new_tms_has_no_subsidiaries(self, backend: TmsBackend) -> None:
        assert backend.list_subsidiaries() == []

    def test_create_returns_the_new_subsidiary_bare(self, backend: TmsBackend) -> None:
        sub = self.create(backend)
        assert sub.tms_id
        assert sub.fields == sample_fields(1)
        assert (sub.notice_of_assignment, sub.invoicing, sub.rts_ftp, sub.applied_from) == (
            None, None, None, None,
        )  # fmt: skip
        assert sub.etag

    def test_get_returns_what_create_returned(self, backend: TmsBackend) -> None:
        sub = self.create(backend)
        assert backend.get_subsidiary(sub.tms_id) == sub

    def test_get_of_an_unknown_id_is_not_found(self, backend: TmsBackend) -> None:
        with pytest.raises(NotFoundError):
            backend.get_subsidiary("sub_does_not_exist")

    def test_creates_get_distinct_ids(self, backend: TmsBackend) -> None:
        ids = {self.create(backend, n).tms_id for n in range(5)}
        assert len(ids) == 5

    def test_a_repeated_idempotency_key_creates_once(self, backend: TmsBackend) -> None:
        key = new_key()
        first = backend.create_subsidiary(sample_fields(1), idempotency_key=key)
        second = backend.create_subsidiary(sample_fields(1), idempotency_key=key)
        assert second.tms_id == first.tms_id
        assert [s.tms_id for s in backend.list_subsidiaries()] == [first.tms_id]

    def test_a_replayed_create_returns_a_usable_etag(self, backend: TmsBackend) -> None:
        """A create retried after a lost response must let the engine carry on writing."""
        key = new_key()
        first = backend.create_subsidiary(sample_fields(1), idempotency_key=key)
        replay = backend.create_subsidiary(sample_fields(1), idempotency_key=key)
        assert replay.etag == first.etag
        changed = backend.set_invoicing(first.tms_id, FACTORING, if_match=replay.etag)
        assert changed.invoicing == FACTORING

    def test_a_reused_idempotency_key_with_other_fields_is_refused(
        self, backend: TmsBackend
    ) -> None:
        key = new_key()
        first = backend.create_subsidiary(sample_fields(1), idempotency_key=key)
        with pytest.raises(TmsError) as refused:
            backend.create_subsidiary(sample_fields(2), idempotency_key=key)
        assert not isinstance(refused.value, NotFoundError)
        assert [s.tms_id for s in backend.list_subsidiaries()] == [first.tms_id]
        assert backend.get_subsidiary(first.tms_id).fields == sample_fields(1)

    def test_same_fields_under_new_keys_are_two_subsidiaries(self, backend: TmsBackend) -> None:
        """The TMS does not deduplicate by content: only the key makes a create idempotent."""
        a = backend.create_subsidiary(sample_fields(1), idempotency_key=new_key())
        b = backend.create_subsidiary(sample_fields(1), idempotency_key=new_key())
        assert a.tms_id != b.tms_id

    @pytest.mark.parametrize("blank", ["name", "mc_number", "dot_number"])
    def test_a_blank_field_is_refused_on_create_and_update(
        self, backend: TmsBackend, blank: str
    ) -> None:
        fields = dataclasses.replace(sample_fields(1), **{blank: "  "})
        with pytest.raises(TmsError):
            backend.create_subsidiary(fields, idempotency_key=new_key())
        assert backend.list_subsidiaries() == []
        sub = self.create(backend)
        with pytest.raises(TmsError) as refused:
            backend.update_subsidiary(sub.tms_id, fields, if_match=sub.etag)
        assert not isinstance(refused.value, ConflictError | NotFoundError)
        assert backend.get_subsidiary(sub.tms_id) == sub

    def test_list_returns_every_subsidiary_once_in_creation_order(
        self, backend: TmsBackend
    ) -> None:
        created = [self.create(backend, n) for n in range(self.many_subsidiaries)]
        listed = backend.list_subsidiaries()
        assert [s.tms_id for s in listed] == [s.tms_id for s in created]
        assert listed == created
        assert backend.list_subsidiaries() == listed  # stable

    def test_list_items_are_complete(self, backend: TmsBackend) -> None:
        sub = self.configured(backend)
        sub = backend.record_applied(sub.tms_id, APPLIED, if_match=sub.etag)
        assert backend.list_subsidiaries() == [sub]
        assert backend.get_subsidiary(sub.tms_id) == sub

    # -- versioned writes -----------------------------------------------------------------------

    @pytest.mark.parametrize("write", EVERY_WRITE.values(), ids=EVERY_WRITE.keys())
    def test_every_write_refuses_a_stale_etag_and_changes_nothing(
        self, backend: TmsBackend, write: Write
    ) -> None:
        stale = self.configured(backend)
        current = backend.set_notice_of_assignment(stale.tms_id, "NOTICE v2", if_match=stale.etag)
        with pytest.raises(ConflictError):
            write(backend, stale.tms_id, stale.etag)
        assert backend.get_subsidiary(stale.tms_id) == current

    @pytest.mark.parametrize("write", EVERY_WRITE.values(), ids=EVERY_WRITE.keys())
    def test_every_write_to_an_unknown_id_is_not_found(
        self, backend: TmsBackend, write: Write
    ) -> None:
        sub = self.create(backend)
        with pytest.raises(NotFoundError):
            write(backend, "sub_does_not_exist", sub.etag)

    @pytest.mark.parametrize("write", EVERY_WRITE.values(), ids=EVERY_WRITE.keys())
    def test_every_write_returns_a_new_etag_that_chains(
        self, backend: TmsBackend, write: Write
    ) -> None:
        before = self.configured(backend)
        after = write(backend, before.tms_id, before.etag)
        assert after.etag != before.etag
        assert backend.get_subsidiary(before.tms_id) == after
        with pytest.raises(ConflictError):
            backend.set_notice_of_assignment(before.tms_id, "late", if_match=before.etag)
        backend.set_notice_of_assignment(before.tms_id, "chained", if_match=after.etag)

    def test_update_subsidiary_changes_only_the_fields(self, backend: TmsBackend) -> None:
        sub = self.configured(backend)
        updated = backend.update_subsidiary(sub.tms_id, sample_fields(7), if_match=sub.etag)
        assert updated.fields == sample_fields(7)
        assert (updated.notice_of_assignment, updated.invoicing, updated.rts_ftp) == (
            sub.notice_of_assignment, sub.invoicing, sub.rts_ftp,
        )  # fmt: skip

    @pytest.mark.parametrize(
        "text",
        [
            UNICODE_NOTICE,
            "x" * 10_000,
            ("NOTICE OF ASSIGNMENT — ünïcödé 支払い ✅\n" * 400)[:10_000],
            "line one\r\nline two\r\n",
        ],
        ids=["unicode", "10000-ascii", "10000-unicode", "crlf-kept-verbatim"],
    )
    def test_notice_of_assignment_round_trips_exactly(self, backend: TmsBackend, text: str) -> None:
        sub = self.create(backend)
        written = backend.set_notice_of_assignment(sub.tms_id, text, if_match=sub.etag)
        assert written.notice_of_assignment == text
        assert backend.get_subsidiary(sub.tms_id).notice_of_assignment == text

    @pytest.mark.parametrize("text", ["", "   \n", "x" * 10_001], ids=["empty", "blank", "10001"])
    def test_an_empty_or_oversized_notice_is_refused(self, backend: TmsBackend, text: str) -> None:
        sub = self.create(backend)
        with pytest.raises(TmsError):
            backend.set_notice_of_assignment(sub.tms_id, text, if_match=sub.etag)
        assert backend.get_subsidiary(sub.tms_id) == sub

    @pytest.mark.parametrize("invoicing", [FACTORING, Invoicing(InvoicingMethod.EMAIL, False)])
    def test_set_invoicing_round_trips(self, backend: TmsBackend, invoicing: Invoicing) -> None:
        sub = self.create(backend)
        assert (
            backend.set_invoicing(sub.tms_id, invoicing, if_match=sub.etag).invoicing == invoicing
        )
        assert backend.get_subsidiary(sub.tms_id).invoicing == invoicing

    # -- RTS FTP and credentials ----------------------------------------------------------------

    def test_configuring_rts_ftp_the_first_time_needs_credentials(
        self, backend: TmsBackend
    ) -> None:
        sub = self.create(backend)
        with pytest.raises(TmsError) as refused:
            backend.put_rts_ftp(
                sub.tms_id, FTP, credentials=None, credentials_revision=None, if_match=sub.etag
            )
        assert not isinstance(refused.value, ConflictError | NotFoundError)
        assert backend.get_subsidiary(sub.tms_id) == sub

    @pytest.mark.parametrize("settings", [FTP, SFTP], ids=["ftp", "sftp-with-host-key"])
    def test_put_rts_ftp_stores_settings_and_login_but_returns_no_password(
        self, backend: TmsBackend, settings: FtpSettings
    ) -> None:
        sub = self.create(backend)
        written = backend.put_rts_ftp(
            sub.tms_id,
            settings,
            credentials=login(),
            credentials_revision="cr1-a",
            if_match=sub.etag,
        )
        for seen in (written, backend.get_subsidiary(sub.tms_id)):
            assert seen.rts_ftp is not None
            assert seen.rts_ftp.settings == settings
            assert seen.rts_ftp.username == "rts_user_1"
            assert seen.rts_ftp.password_set is True
            assert seen.rts_ftp.credentials_revision == "cr1-a"
            assert SAMPLE_PASSWORD not in repr(seen)

    def test_put_without_credentials_keeps_the_login_and_its_revision(
        self, backend: TmsBackend
    ) -> None:
        sub = self.configured(backend)
        moved = FtpSettings(FtpProtocol.FTPS, "ftp2.rtsfinancial.com", 990, "/incoming")
        written = backend.put_rts_ftp(
            sub.tms_id, moved, credentials=None, credentials_revision=None, if_match=sub.etag
        )
        assert written.rts_ftp is not None
        assert written.rts_ftp.settings == moved
        assert (written.rts_ftp.username, written.rts_ftp.password_set) == ("rts_user_1", True)
        assert written.rts_ftp.credentials_revision == "cr1-a"

    def test_put_with_new_credentials_replaces_login_and_revision(
        self, backend: TmsBackend
    ) -> None:
        sub = self.configured(backend)
        written = backend.put_rts_ftp(
            sub.tms_id,
            FTP,
            credentials=login("rotated-Pass", username="rts_user_2"),
            credentials_revision="cr1-b",
            if_match=sub.etag,
        )
        assert written.rts_ftp is not None
        assert (written.rts_ftp.username, written.rts_ftp.credentials_revision) == (
            "rts_user_2", "cr1-b",
        )  # fmt: skip

    def test_remove_rts_ftp_clears_settings_and_login(self, backend: TmsBackend) -> None:
        sub = self.configured(backend)
        removed = backend.remove_rts_ftp(sub.tms_id, if_match=sub.etag)
        assert removed.rts_ftp is None
        assert removed.notice_of_assignment == sub.notice_of_assignment
        assert backend.get_subsidiary(sub.tms_id).rts_ftp is None
        with pytest.raises(TmsError):  # the login went too: a settings-only put has none to keep
            backend.put_rts_ftp(
                sub.tms_id, FTP, credentials=None, credentials_revision=None, if_match=removed.etag
            )

    def test_removing_rts_ftp_that_is_not_there_succeeds(self, backend: TmsBackend) -> None:
        """A removal re-run after an interrupted apply must not fail."""
        sub = self.create(backend)
        removed = backend.remove_rts_ftp(sub.tms_id, if_match=sub.etag)
        assert removed.rts_ftp is None
        assert removed.fields == sub.fields

    def test_a_revision_without_credentials_is_refused(self, backend: TmsBackend) -> None:
        sub = self.configured(backend)
        with pytest.raises(TmsError) as refused:
            backend.put_rts_ftp(
                sub.tms_id, FTP, credentials=None, credentials_revision="cr1-x", if_match=sub.etag
            )
        assert not isinstance(refused.value, ConflictError | NotFoundError)
        assert backend.get_subsidiary(sub.tms_id) == sub

    def test_the_password_never_comes_back_nor_appears_in_errors(
        self, backend: TmsBackend, canary_password: str
    ) -> None:
        sub = self.configured(backend, password=canary_password)
        seen: list[object] = [sub, backend.get_subsidiary(sub.tms_id), backend.list_subsidiaries()]
        canary_login = login(canary_password)
        failing: list[Callable[[], object]] = [
            lambda: backend.put_rts_ftp(
                "sub_does_not_exist", FTP, credentials=canary_login, credentials_revision=None,
                if_match=sub.etag,
            ),
            lambda: backend.put_rts_ftp(
                sub.tms_id, FTP, credentials=canary_login, credentials_revision=None,
                if_match='"stale"',
            ),
            lambda: backend.put_rts_ftp(
                sub.tms_id, FtpSettings(FtpProtocol.FTP, "h.rtsfinancial.com", 0, "/in"),
                credentials=canary_login, credentials_revision=None, if_match=sub.etag,
            ),
        ]  # fmt: skip
        for attempt in failing:
            with pytest.raises(TmsError) as caught:
                attempt()
            seen += [caught.value, caught.value.args, caught.value.__cause__]
        for thing in seen:
            assert canary_password not in repr(thing)
            assert canary_password not in str(thing)

    # -- bookkeeping ----------------------------------------------------------------------------

    def test_record_applied_stores_commit_and_time_and_nothing_else(
        self, backend: TmsBackend
    ) -> None:
        sub = self.configured(backend)
        recorded = backend.record_applied(sub.tms_id, APPLIED, if_match=sub.etag)
        assert recorded.applied_from == APPLIED
        assert backend.get_subsidiary(sub.tms_id).applied_from == APPLIED
        assert (recorded.fields, recorded.notice_of_assignment, recorded.invoicing) == (
            sub.fields, sub.notice_of_assignment, sub.invoicing,
        )  # fmt: skip
        assert recorded.rts_ftp == sub.rts_ftp

    def test_writes_keep_updated_at_current(self, backend: TmsBackend) -> None:
        sub = self.create(backend)
        assert sub.updated_at
        changed = backend.set_invoicing(sub.tms_id, FACTORING, if_match=sub.etag)
        assert changed.updated_at is not None
        assert changed.updated_at >= sub.updated_at

    # -- changes made in the TMS itself (needs `tms_side`) --------------------------------------

    def test_a_ui_edit_makes_the_planned_etag_stale(
        self, backend: TmsBackend, tms_side: TmsSide
    ) -> None:
        sub = self.configured(backend)
        tms_side.ui_edit(sub.tms_id, notice_of_assignment="EDITED IN THE UI")
        with pytest.raises(ConflictError):
            backend.set_notice_of_assignment(sub.tms_id, "from git", if_match=sub.etag)
        assert backend.get_subsidiary(sub.tms_id).notice_of_assignment == "EDITED IN THE UI"

    def test_credentials_typed_in_the_ui_clear_the_revision(
        self, backend: TmsBackend, tms_side: TmsSide
    ) -> None:
        sub = self.configured(backend)
        tms_side.ui_edit(sub.tms_id, credentials=login("typed-by-hand", username="someone"))
        live = backend.get_subsidiary(sub.tms_id)
        assert live.rts_ftp is not None
        assert (live.rts_ftp.username, live.rts_ftp.password_set) == ("someone", True)
        assert live.rts_ftp.credentials_revision is None

    def test_the_tms_keeps_the_password_it_was_given(
        self, backend: TmsBackend, tms_side: TmsSide, canary_password: str
    ) -> None:
        sub = self.configured(backend, password=canary_password)
        assert tms_side.password_matches(sub.tms_id, Secret(canary_password))
        assert not tms_side.password_matches(sub.tms_id, Secret(canary_password + "x"))
        moved = FtpSettings(FtpProtocol.FTP, "ftp2.rtsfinancial.com", 21, "/in")
        backend.put_rts_ftp(
            sub.tms_id, moved, credentials=None, credentials_revision=None, if_match=sub.etag
        )
        assert tms_side.password_matches(sub.tms_id, Secret(canary_password))
