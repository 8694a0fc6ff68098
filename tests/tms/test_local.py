"""The local (SQLite) backend: the shared contract, plus what only a file on disk can show."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from rtssync.errors import ConflictError, NotFoundError, TmsError
from rtssync.model import (
    FtpCredentials,
    FtpProtocol,
    FtpSettings,
    Invoicing,
    InvoicingMethod,
    Secret,
    SubsidiaryFields,
)
from rtssync.tms.base import TmsBackend
from rtssync.tms.local import LocalBackend, LocalStoreError
from rtssync.tms.sqlite_schema import MIGRATIONS, SCHEMA_VERSION

from .contract import (
    APPLIED,
    FACTORING,
    FTP,
    SAMPLE_PASSWORD,
    TmsContract,
    TmsSide,
    login,
    sample_fields,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "tms.sqlite"


class TestLocalBackendContract(TmsContract):
    @pytest.fixture
    def backend(self, db_path: Path) -> Iterator[TmsBackend]:
        with LocalBackend(db_path) as backend:
            yield backend

    @pytest.fixture
    def tms_side(self, db_path: Path) -> Iterator[TmsSide]:
        """A second connection to the same file, as the Alvys UI is a second client."""
        with LocalBackend(db_path) as side:
            yield side


# -- the file: creation, permissions, WAL, migrations -------------------------------------------


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection, to look at the file the way any SQLite tool would."""
    return sqlite3.connect(path, isolation_level=None)


def test_first_use_creates_the_folders_and_an_owner_only_file(db_path: Path) -> None:
    previous = os.umask(0)  # even a permissive umask must not widen a file holding passwords
    try:
        with LocalBackend(db_path) as backend:
            TmsContract.configured(backend)
    finally:
        os.umask(previous)
    for path in db_path.parent.iterdir():  # the database, its -wal and -shm
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


def test_the_store_runs_in_wal_mode(db_path: Path) -> None:
    LocalBackend(db_path).close()
    with closing(raw(db_path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_empty_file_is_migrated_to_the_current_schema(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.touch(mode=0o600)
    with LocalBackend(db_path) as backend:
        assert backend.list_subsidiaries() == []
    with closing(raw(db_path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)


def test_reopening_keeps_the_data_and_does_not_migrate_again(db_path: Path) -> None:
    with LocalBackend(db_path) as backend:
        sub = TmsContract.configured(backend)
    with LocalBackend(db_path) as backend:
        assert backend.list_subsidiaries() == [sub]


def test_a_file_from_an_older_schema_is_migrated_keeping_its_data(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with closing(raw(db_path)) as db:
        MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO subsidiaries (id, name, mc_number, dot_number, version, created_at, "
            "updated_at) VALUES ('sub_old', 'Old Freight', '01', '02', 3, 't', 't')"
        )
    with LocalBackend(db_path) as backend:
        old = backend.get_subsidiary("sub_old")
        assert (old.fields.name, old.etag) == ("Old Freight", '"v3"')
        assert backend.search(0, 10, mc_number="01").items == [old]
    with closing(raw(db_path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_file_from_a_newer_rtssync_is_refused_untouched(db_path: Path) -> None:
    LocalBackend(db_path).close()
    with closing(raw(db_path)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(TmsError, match="newer than this rtssync understands"):
        LocalBackend(db_path)
    with closing(raw(db_path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_file_that_is_not_a_database_is_one_clear_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not SQLite, just text that happens to be long enough" * 100)
    with pytest.raises(LocalStoreError, match=r"cannot open the local TMS store .*tms\.sqlite"):
        LocalBackend(db_path)


def test_a_writer_waits_for_another_connections_transaction(db_path: Path) -> None:
    holding = threading.Event()
    released_at: list[float] = []

    def hold_the_write_lock_briefly() -> None:
        with closing(raw(db_path)) as other:  # as another process mid-write would
            other.execute("BEGIN IMMEDIATE")
            holding.set()
            time.sleep(0.5)
            released_at.append(time.monotonic())
            other.execute("COMMIT")

    with LocalBackend(db_path) as backend:
        sub = TmsContract.create(backend)
        holder = threading.Thread(target=hold_the_write_lock_briefly)
        holder.start()
        holding.wait(5)
        changed = backend.set_invoicing(sub.tms_id, FACTORING, if_match=sub.etag)
        finished_at = time.monotonic()
        holder.join()
    assert changed.invoicing == FACTORING  # waited instead of failing with "database is locked"
    assert finished_at >= released_at[0]


def test_a_writer_locked_out_past_the_timeout_fails_cleanly(db_path: Path) -> None:
    with LocalBackend(db_path, busy_timeout_s=0.2) as backend:
        sub = TmsContract.create(backend)
        with closing(raw(db_path)) as other:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(LocalStoreError, match="database is locked"):
                backend.set_invoicing(sub.tms_id, FACTORING, if_match=sub.etag)
            other.execute("ROLLBACK")
        assert backend.get_subsidiary(sub.tms_id) == sub  # nothing half-written, still usable
        assert backend.set_invoicing(sub.tms_id, FACTORING, if_match=sub.etag).invoicing


def test_a_store_that_cannot_be_created_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(LocalStoreError, match=r"cannot create the local TMS store .*a-file"):
        LocalBackend(tmp_path / "a-file" / "tms.sqlite")


def test_a_closed_backend_says_so(db_path: Path) -> None:
    backend = LocalBackend(db_path)
    backend.close()
    backend.close()  # closing twice is harmless
    with pytest.raises(TmsError, match="is closed"):
        backend.list_subsidiaries()


# -- several writers ------------------------------------------------------------------------------

APPEND_WORKER = """
import sys, time
from pathlib import Path
from rtssync.errors import ConflictError
from rtssync.model import SubsidiaryFields
from rtssync.tms.local import LocalBackend, LocalStoreError

db, tms_id, tag, go = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
count = int(sys.argv[5])
conflicts = 0
with LocalBackend(db) as backend:
    while not go.exists():
        time.sleep(0.001)
    for i in range(count):
        while True:  # read, change, write with If-Match; on conflict read again
            current = backend.get_subsidiary(tms_id)
            try:
                backend.set_notice_of_assignment(
                    tms_id, current.notice_of_assignment + f"{tag}-{i}\\n", if_match=current.etag
                )
                break
            except ConflictError:
                conflicts += 1
        backend.create_subsidiary(
            SubsidiaryFields(f"{tag} {i}", f"{tag}{i}", f"{tag}{i}"), idempotency_key=f"{tag}-{i}"
        )
print(conflicts)
"""


def start_worker(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(worker: subprocess.Popen[str]) -> str:
    out, err = worker.communicate(timeout=240)
    assert "locked" not in err
    assert worker.returncode == 0, err
    return out


def test_two_processes_writing_at_once_lose_no_update(db_path: Path, tmp_path: Path) -> None:
    writes = 200
    with LocalBackend(db_path) as backend:
        shared = backend.create_subsidiary(sample_fields(), idempotency_key="shared")
        backend.set_notice_of_assignment(shared.tms_id, "NOTICE\n", if_match=shared.etag)
    go = tmp_path / "go"
    workers = [start_worker(APPEND_WORKER, db_path, shared.tms_id, t, go, writes) for t in "AB"]
    go.touch()
    for worker in workers:
        finish(worker)  # each printed how many conflicts it retried; any number is fine

    with LocalBackend(db_path) as backend:
        final = backend.get_subsidiary(shared.tms_id)
        everything = backend.list_subsidiaries()
    assert final.notice_of_assignment is not None
    lines = final.notice_of_assignment.splitlines()[1:]
    assert sorted(lines) == sorted(f"{t}-{i}" for t in "AB" for i in range(writes))
    for tag in "AB":  # each process's own appends stay in its order
        assert [x for x in lines if x[0] == tag] == [f"{tag}-{i}" for i in range(writes)]
    assert final.etag == f'"v{2 + 2 * writes}"'
    assert len(everything) == 1 + 2 * writes
    assert integrity(db_path) == ["ok"]


def integrity(path: Path) -> list[str]:
    with closing(raw(path)) as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        return [row[0] for row in db.execute("PRAGMA integrity_check")]


OPEN_FRESH_WORKER = """
import sys
from rtssync.model import SubsidiaryFields
from rtssync.tms.local import LocalBackend, LocalStoreError
with LocalBackend(sys.argv[1]) as backend:
    backend.create_subsidiary(SubsidiaryFields(sys.argv[2], "1", "2"), idempotency_key=sys.argv[2])
"""


def test_processes_opening_a_new_file_at_once_migrate_it_once(db_path: Path) -> None:
    workers = [start_worker(OPEN_FRESH_WORKER, db_path, f"w{n}") for n in range(4)]
    for worker in workers:
        finish(worker)
    with LocalBackend(db_path) as backend:
        names = sorted(s.fields.name for s in backend.list_subsidiaries())
    assert names == ["w0", "w1", "w2", "w3"]
    assert integrity(db_path) == ["ok"]


SAME_KEY_WORKER = """
import sys
from rtssync.model import SubsidiaryFields
from rtssync.tms.local import LocalBackend
with LocalBackend(sys.argv[1]) as backend:
    made = backend.create_subsidiary(SubsidiaryFields("Same", "1", "2"), idempotency_key="same")
print(made.tms_id)
"""


def test_processes_creating_with_one_key_at_once_create_one(db_path: Path) -> None:
    """Two applies retrying the same create at the same moment still make one subsidiary."""
    workers = [start_worker(SAME_KEY_WORKER, db_path) for _ in range(4)]
    ids = {finish(worker).strip() for worker in workers}
    with LocalBackend(db_path) as backend:
        assert [s.tms_id for s in backend.list_subsidiaries()] == list(ids)


def test_threads_sharing_one_backend_lose_no_update(db_path: Path) -> None:
    with LocalBackend(db_path) as backend:
        sub = backend.create_subsidiary(sample_fields(), idempotency_key="k")
        backend.set_notice_of_assignment(sub.tms_id, "N\n", if_match=sub.etag)

        def append(tag: str) -> None:
            for i in range(50):
                while True:
                    current = backend.get_subsidiary(sub.tms_id)
                    text = f"{current.notice_of_assignment}{tag}{i}\n"
                    try:
                        backend.set_notice_of_assignment(sub.tms_id, text, if_match=current.etag)
                        break
                    except ConflictError:
                        continue

        threads = [threading.Thread(target=append, args=(t,)) for t in "wxyz"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = backend.get_subsidiary(sub.tms_id).notice_of_assignment
    assert final is not None
    assert len(final.splitlines()) == 1 + 4 * 50


# -- what the reference server builds on: search, replays, idempotency lookup -------------------


@pytest.fixture
def backend(db_path: Path) -> Iterator[LocalBackend]:
    with LocalBackend(db_path) as backend:
        yield backend


def test_search_pages_visit_every_subsidiary_once_in_a_stable_order(
    backend: LocalBackend,
) -> None:
    created = [TmsContract.create(backend, n) for n in range(25)]
    pages = [backend.search(page, 10) for page in range(4)]
    assert [len(p.items) for p in pages] == [10, 10, 5, 0]
    assert {p.total for p in pages} == {25}
    assert [s for p in pages for s in p.items] == created == backend.list_subsidiaries()
    items, total = backend.search(1, 10)  # also unpacks like the (items, total) pair it is
    assert (items, total) == (pages[1].items, 25)


def test_search_filters_must_all_match(backend: LocalBackend) -> None:
    eclair = backend.ui_create(SubsidiaryFields("ÉCLAIR Freight", "0777", "0888"))
    other = backend.ui_create(SubsidiaryFields("Other Eclair Haulers", "0777", "0999"))
    backend.ui_create(SubsidiaryFields("Unrelated", "0111", "0222"))
    assert backend.search(0, 10, name_contains="éclair").items == [eclair]
    assert backend.search(0, 10, name_contains="ECLAIR").items == [other]
    assert backend.search(0, 10, mc_number="0777") == ([eclair, other], 2)
    assert backend.search(0, 10, mc_number="0777", dot_number="0999").items == [other]
    assert backend.search(0, 10, mc_number="777").items == []  # numbers match exactly
    assert backend.search(0, 10, ids=[other.tms_id, "sub_nope"]).items == [other]
    assert backend.search(0, 10, ids=[]) == ([], 0)


def test_search_by_too_many_ids_is_refused(backend: LocalBackend) -> None:
    with pytest.raises(TmsError, match="at most 1000 ids"):
        backend.search(0, 10, ids=[f"sub_{n}" for n in range(1001)])


@pytest.mark.parametrize(("page", "page_size"), [(-1, 10), (0, 0), (0, 1001)])
def test_search_refuses_pages_out_of_range(
    backend: LocalBackend, page: int, page_size: int
) -> None:
    with pytest.raises(TmsError, match="page"):
        backend.search(page, page_size)


def test_create_or_replay_tells_a_replay_from_a_new_create(backend: LocalBackend) -> None:
    assert backend.lookup_idempotency_key("k1") is None
    first = backend.create_or_replay(sample_fields(), idempotency_key="k1")
    replay = backend.create_or_replay(sample_fields(), idempotency_key="k1")
    assert (first.created, replay.created) == (True, False)
    assert replay.subsidiary == first.subsidiary
    assert backend.lookup_idempotency_key("k1") == first.subsidiary.tms_id


def test_a_replay_returns_the_subsidiary_as_it_is_now(backend: LocalBackend) -> None:
    """Not a cached response: its ETag must be usable for the next write."""
    first = backend.create_subsidiary(sample_fields(), idempotency_key="k1")
    changed = backend.set_invoicing(first.tms_id, FACTORING, if_match=first.etag)
    assert backend.create_subsidiary(sample_fields(), idempotency_key="k1") == changed


@pytest.mark.parametrize("key", ["", "  ", "k" * 256])
def test_an_unusable_idempotency_key_is_refused(backend: LocalBackend, key: str) -> None:
    with pytest.raises(TmsError, match="idempotency key"):
        backend.create_subsidiary(sample_fields(), idempotency_key=key)
    assert backend.list_subsidiaries() == []


def test_record_applied_is_bookkeeping_that_leaves_updated_at(backend: LocalBackend) -> None:
    sub = TmsContract.configured(backend)
    recorded = backend.record_applied(sub.tms_id, APPLIED, if_match=sub.etag)
    assert recorded.updated_at == sub.updated_at
    assert recorded.etag != sub.etag  # the ETag versions the whole record


# -- edits "in the UI" ----------------------------------------------------------------------------


def test_ui_create_makes_an_unmanaged_subsidiary(backend: LocalBackend) -> None:
    made = backend.ui_create(sample_fields(5))
    assert backend.list_subsidiaries() == [made]


def test_ui_edit_needs_no_etag_but_moves_it_on(backend: LocalBackend) -> None:
    sub = TmsContract.configured(backend)
    edited = backend.ui_edit(
        sub.tms_id,
        fields=sample_fields(8),
        notice_of_assignment="UI NOTICE",
        invoicing=Invoicing(InvoicingMethod.EMAIL, auto_merge=False),
    )
    assert edited.fields == sample_fields(8)
    assert edited.notice_of_assignment == "UI NOTICE"
    assert edited.invoicing == Invoicing(InvoicingMethod.EMAIL, auto_merge=False)
    assert edited.rts_ftp == sub.rts_ftp
    assert edited.etag != sub.etag


def test_ui_edit_of_ftp_settings_keeps_login_and_revision(backend: LocalBackend) -> None:
    sub = TmsContract.configured(backend)
    moved = FtpSettings(FtpProtocol.FTP, "evil.example.com", 21, "/in")
    edited = backend.ui_edit(sub.tms_id, ftp_settings=moved)
    assert edited.rts_ftp is not None
    assert edited.rts_ftp.settings == moved
    assert edited.rts_ftp.credentials_revision == "cr1-a"


def test_the_ui_may_save_ftp_settings_without_a_login(backend: LocalBackend) -> None:
    sub = TmsContract.create(backend)
    edited = backend.ui_edit(sub.tms_id, ftp_settings=FTP)
    assert edited.rts_ftp is not None
    assert (edited.rts_ftp.username, edited.rts_ftp.password_set) == (None, False)
    with pytest.raises(TmsError, match="no RTS FTP login"):
        backend.put_rts_ftp(
            sub.tms_id, FTP, credentials=None, credentials_revision=None, if_match=edited.etag
        )


def test_ui_credentials_need_ftp_settings_first(backend: LocalBackend) -> None:
    sub = TmsContract.create(backend)
    with pytest.raises(TmsError, match="no RTS FTP settings"):
        backend.ui_edit(sub.tms_id, credentials=login())
    assert backend.get_subsidiary(sub.tms_id) == sub


def test_ui_edit_removes_ftp(backend: LocalBackend) -> None:
    sub = TmsContract.configured(backend)
    assert backend.ui_edit(sub.tms_id, remove_ftp=True).rts_ftp is None
    assert not backend.password_matches(sub.tms_id, Secret(SAMPLE_PASSWORD))
    with pytest.raises(TmsError, match="either removes"):
        backend.ui_edit(sub.tms_id, remove_ftp=True, ftp_settings=FTP)


def test_ui_edit_of_an_unknown_subsidiary_is_not_found(backend: LocalBackend) -> None:
    with pytest.raises(NotFoundError):
        backend.ui_edit("sub_nope", notice_of_assignment="x")
    with pytest.raises(NotFoundError):
        backend.ui_delete("sub_nope")
    with pytest.raises(NotFoundError):
        backend.password_matches("sub_nope", Secret("x"))


def test_ui_delete_removes_the_subsidiary_its_login_and_its_key(backend: LocalBackend) -> None:
    key = "create-once"
    sub = backend.create_subsidiary(sample_fields(), idempotency_key=key)
    backend.ui_delete(sub.tms_id)
    with pytest.raises(NotFoundError):
        backend.get_subsidiary(sub.tms_id)
    assert backend.lookup_idempotency_key(key) is None
    again = backend.create_subsidiary(sample_fields(), idempotency_key=key)
    assert again.tms_id != sub.tms_id


# -- the canary: what the store gives out never holds a password -------------------------------


def test_no_local_read_or_error_carries_the_password(
    backend: LocalBackend, canary_password: str
) -> None:
    """The password is in the SQLite file (the TMS's own store, 0600) and nowhere else."""
    sub = TmsContract.configured(backend, password=canary_password)
    seen: list[object] = [
        backend.search(0, 10),
        backend.create_or_replay(sample_fields(), idempotency_key="k"),
        backend.ui_edit(sub.tms_id, notice_of_assignment="N"),
    ]
    bare = TmsContract.create(backend, 2)
    too_long = FtpCredentials("u", Secret(canary_password * 100))
    attempts: list[Callable[[], object]] = [
        lambda: backend.ui_edit(bare.tms_id, credentials=login(canary_password)),
        lambda: backend.ui_edit("sub_nope", credentials=login(canary_password)),
        lambda: backend.put_rts_ftp(
            sub.tms_id, FTP, credentials=too_long, credentials_revision=None, if_match=sub.etag
        ),
    ]
    for attempt in attempts:
        with pytest.raises(TmsError) as caught:
            attempt()
        seen.append(caught.value)
    for thing in seen:
        assert canary_password not in repr(thing)
        assert canary_password not in str(thing)
    assert backend.password_matches(sub.tms_id, Secret(canary_password))


def test_a_rotated_or_removed_password_does_not_linger_in_the_files(
    db_path: Path, canary_password: str
) -> None:
    """The TMS must hold the current password, but not the ones it was told to forget."""
    with LocalBackend(db_path) as backend:
        rotated = TmsContract.configured(backend, password=canary_password)
        backend.put_rts_ftp(
            rotated.tms_id, FTP, credentials=login("new-Pass"), credentials_revision="cr1-b",
            if_match=rotated.etag,
        )  # fmt: skip
        removed = TmsContract.configured(backend, password=canary_password[::-1])
        backend.remove_rts_ftp(removed.tms_id, if_match=removed.etag)
        assert backend.password_matches(rotated.tms_id, Secret("new-Pass"))
    on_disk = b"".join(path.read_bytes() for path in db_path.parent.iterdir())
    assert b"new-Pass" in on_disk  # the current one is there: this is the TMS's own store
    assert canary_password.encode() not in on_disk
    assert canary_password[::-1].encode() not in on_disk
