"""The desired state: validated subsidiary files as typed records (DESIGN §4, "desired model").

This is what ``plan`` compares with the TMS. It needs no keys: credentials stay the SOPS
``ENC[...]`` strings they are in the file (their ciphertext is what the TMS's
``credentialsRevision`` is derived from); only apply and verify decrypt.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rtssync.config import Settings
from rtssync.errors import Problem
from rtssync.load import LoadedDocument, dotted
from rtssync.model import (
    DesiredFactoring,
    DesiredSubsidiary,
    EncryptedCredentials,
    FactoringProvider,
    FtpProtocol,
    FtpSettings,
    Invoicing,
    InvoicingMethod,
    SourceLocation,
    SubsidiaryFields,
)
from rtssync.validate import (
    SubsidiaryDocument,
    duplicate_username_problems,
    normalized_data,
    raise_for_problems,
    validate_subsidiaries,
)


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Every subsidiary file, typed, in key order, and what the files were byte for byte."""

    settings: Settings
    subsidiaries: Mapping[str, DesiredSubsidiary]
    """Key (file stem) -> subsidiary, sorted by key."""
    digests: Mapping[str, str]
    """Subsidiary file, relative to the root (POSIX) -> sha256 of its bytes, for saved plans."""

    def __iter__(self) -> Iterator[DesiredSubsidiary]:
        return iter(self.subsidiaries.values())

    def __len__(self) -> int:
        return len(self.subsidiaries)

    @property
    def digest(self) -> str:
        """One sha256 over all files (paths and contents): any added, removed or edited file
        changes it."""
        combined = hashlib.sha256()
        for path, digest in sorted(self.digests.items()):
            combined.update(f"{path}\0{digest}\n".encode())
        return combined.hexdigest()


def load_desired_state(settings: Settings) -> DesiredState:
    """Load and validate every subsidiary file; ConfigError with all blocking problems.

    A password that is not set yet (after ``import``) is not blocking here: the subsidiary
    comes back with ``password_ciphertext=None`` and ``plan`` says what to do.
    """
    with _cyclic_gc_paused():
        result = validate_subsidiaries(settings)
        raise_for_problems(result)
        subsidiaries = {d.key: build_subsidiary(d) for d in sorted(result.documents,
                                                                    key=lambda d: d.key)}
    digests = {d.doc.path.as_posix(): d.doc.digest for d in result.documents}
    return DesiredState(settings=settings, subsidiaries=subsidiaries, digests=digests)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Loading allocates many small, long-lived objects (every file's parsed tree is kept) and
    makes no reference cycles; the cyclic collector would keep re-scanning all of them as they
    pile up, which made loading 10,000 files superlinear. Reference counting still frees
    everything temporary, and the collector runs again as soon as loading is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_subsidiary(document: SubsidiaryDocument) -> DesiredSubsidiary:
    """The typed record of one file that passed validation."""
    data = normalized_data(document.doc.data)
    assert isinstance(data, Mapping), "validated documents are mappings"
    invoicing = data["invoicing"]
    return DesiredSubsidiary(
        key=document.key,
        source=document.file,
        tms_id=data.get("tms_id"),
        fields=SubsidiaryFields(
            name=data["name"], mc_number=data["mc_number"], dot_number=data["dot_number"]),
        notice_of_assignment=data["notice_of_assignment"],
        invoicing=Invoicing(method=InvoicingMethod(invoicing["method"]),
                            auto_merge=invoicing["auto_merge"]),
        factoring=_factoring(data.get("factoring")),
        locations=locations(document.doc),
        parsed=_parsed(document.doc),
    )


def _parsed(doc: LoadedDocument) -> Mapping[str, Any] | None:
    """The data exactly as loaded (not normalized), for decrypting without a second parse;
    only from a file that loaded without a problem, so no value was left out."""
    return doc.data if doc.ok and isinstance(doc.data, Mapping) else None


def _factoring(factoring: Mapping[str, Any] | None) -> DesiredFactoring | None:
    if factoring is None:
        return None
    ftp = factoring["ftp"]
    return DesiredFactoring(
        provider=FactoringProvider(factoring["provider"]),
        ftp=FtpSettings(
            protocol=FtpProtocol(ftp["protocol"]),
            host=ftp["host"],
            port=ftp["port"],
            directory=ftp["directory"],
            host_key=ftp.get("host_key"),
        ),
        credentials=EncryptedCredentials(
            username_ciphertext=ftp["username"],
            password_ciphertext=ftp.get("password"),
        ),
    )


class FieldLocations(Mapping[str, SourceLocation]):
    """Dotted path (``factoring.ftp.host``) -> where it is written, for later messages.

    Built on first use: only error messages ask, and building it for every file of a large
    repository was a tenth of loading it. The ``sops`` block is left out: it is SOPS's
    bookkeeping, never a user's value.
    """

    __slots__ = ("_doc", "_table")

    def __init__(self, doc: LoadedDocument) -> None:
        self._doc = doc
        self._table: dict[str, SourceLocation] | None = None

    def _built(self) -> dict[str, SourceLocation]:
        if self._table is None:
            # Every path here has a mark of its own, so no search up the tree is needed.
            doc = self._doc
            self._table = {dotted(path): SourceLocation(doc.path, line, column)
                           for path, (line, column) in doc.value_marks.items()
                           if path and path[0] != "sops"}
        return self._table

    def __getitem__(self, key: str) -> SourceLocation:
        return self._built()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    def __repr__(self) -> str:
        return f"FieldLocations({self._doc.path})"


def locations(doc: LoadedDocument) -> Mapping[str, SourceLocation]:
    """Where each value of ``doc`` is written (see :class:`FieldLocations`)."""
    return FieldLocations(doc)


def reused_login_problems(subsidiaries: Mapping[str, DesiredSubsidiary],
                          usernames: Mapping[str, str]) -> list[Problem]:
    """The one-login-per-subsidiary rule for callers holding keys (plan, apply, verify).

    ``usernames`` is key -> decrypted RTS FTP username (what ``plan``'s ``decrypt_usernames``
    returns). ``validate`` cannot check this without keys; see :mod:`rtssync.validate`.
    """
    located = {}
    for key, username in usernames.items():
        subsidiary = subsidiaries[key]
        where = subsidiary.locations.get("factoring.ftp.username") or SourceLocation(
            subsidiary.source, 1, 1)
        located[key] = (username, where)
    return duplicate_username_problems(located)
