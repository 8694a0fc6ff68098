"""Desired and live records for the plan, render and planfile unit tests.

They are plain typed records (model.py), built directly so each test states exactly the
difference it is about. The end-to-end tests (tests/e2e) use real files, sops and the TMS.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rtssync.model import (
    AppliedFrom,
    DesiredFactoring,
    DesiredSubsidiary,
    EncryptedCredentials,
    FactoringProvider,
    FtpProtocol,
    FtpSettings,
    Invoicing,
    InvoicingMethod,
    LiveFtp,
    LiveSubsidiary,
    SourceLocation,
    SubsidiaryFields,
)

ROOT = Path("/repo")
NOA = "NOTICE OF ASSIGNMENT: pay only to\nRTS Financial Service, Inc.\nP.O. Box 840267\n"
ALLOWED = ("*.rtsfinancial.com",)
APPLIED_AT = "2026-01-01T00:00:00.000Z"


def ftp_settings(**overrides: Any) -> FtpSettings:
    base = FtpSettings(FtpProtocol.FTP, "devftp.rtsfinancial.com", 21, "/incoming", None)
    return replace(base, **overrides)


def credentials(n: int, generation: int = 1) -> EncryptedCredentials:
    """Stand-in ciphertexts: a new generation is what a re-encryption produces."""
    return EncryptedCredentials(
        f"ENC[AES256_GCM,data:user{n}g{generation},type:str]",
        f"ENC[AES256_GCM,data:pass{n}g{generation},type:str]",
    )


def desired(n: int, **overrides: Any) -> DesiredSubsidiary:
    """Subsidiary file ``sub-<n>`` with every field set, lines recorded for error messages."""
    key = overrides.pop("key", f"sub-{n}")
    source = ROOT / "config" / "subsidiaries" / f"{key}.yaml"
    base = DesiredSubsidiary(
        key=key,
        source=source,
        tms_id=None,
        fields=SubsidiaryFields(f"Subsidiary {n} LLC", f"{100000 + n}", f"{2000000 + n}"),
        notice_of_assignment=NOA,
        invoicing=Invoicing(InvoicingMethod.FACTORING, True),
        factoring=DesiredFactoring(FactoringProvider.RTS, ftp_settings(), credentials(n)),
        locations={
            name: SourceLocation(source, line, 1)
            for line, name in enumerate(
                ["name", "tms_id", "mc_number", "dot_number", "factoring.ftp.host"], start=2
            )
        },
    )
    return replace(base, **overrides)


def live_for(d: DesiredSubsidiary, tms_id: str = "", **overrides: Any) -> LiveSubsidiary:
    """The live subsidiary exactly as the last apply of ``d`` left it (no changes)."""
    assert d.factoring is not None
    base = LiveSubsidiary(
        tms_id=tms_id or f"tms-{d.key}",
        fields=d.fields,
        notice_of_assignment=d.notice_of_assignment,
        invoicing=d.invoicing,
        rts_ftp=LiveFtp(
            d.factoring.ftp, f"user-of-{d.key}", True, d.factoring.credentials.revision
        ),
        etag=f'W/"{d.key}-1"',
        applied_from=AppliedFrom("c0ffee", APPLIED_AT),
        updated_at="2025-12-31T23:59:59.000Z",
    )
    return replace(base, **overrides)


def by_key(*items: DesiredSubsidiary) -> dict[str, DesiredSubsidiary]:
    return {item.key: item for item in items}


def with_ftp(d: DesiredSubsidiary, **changes: Any) -> DesiredSubsidiary:
    """``d`` with its factoring block changed: ``ftp=...`` and/or ``credentials=...``."""
    assert d.factoring is not None
    return replace(d, factoring=replace(d.factoring, **changes))
