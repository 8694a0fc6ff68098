"""The JSON shapes of the TMS contract (schemas/tms-api.yaml) <-> the typed model.

One module for both sides, so the reference server and the http client cannot disagree about a
field name. Readers raise :class:`TmsError` naming the field (never its value) on a malformed
document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rtssync.errors import TmsError
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

Json = dict[str, Any]

# -- model -> JSON ------------------------------------------------------------------------------


def fields_to_json(fields: SubsidiaryFields) -> Json:
    return {"name": fields.name, "mcNumber": fields.mc_number, "dotNumber": fields.dot_number}


def invoicing_to_json(invoicing: Invoicing) -> Json:
    return {"method": invoicing.method.value, "autoMerge": invoicing.auto_merge}


def ftp_settings_to_json(settings: FtpSettings) -> Json:
    return {
        "protocol": settings.protocol.value,
        "host": settings.host,
        "port": settings.port,
        "directory": settings.directory,
        "hostKey": settings.host_key,
    }


def credentials_to_json(credentials: FtpCredentials) -> Json:
    """The only place a password is put into JSON: the body of ``PUT .../rts-ftp``."""
    return {"username": credentials.username, "password": credentials.password.reveal()}


def applied_to_json(applied: AppliedFrom) -> Json:
    return {"commit": applied.commit, "appliedAt": applied.applied_at}


def live_ftp_to_json(ftp: LiveFtp) -> Json:
    return {
        **ftp_settings_to_json(ftp.settings),
        "username": ftp.username,
        "passwordSet": ftp.password_set,
        "credentialsRevision": ftp.credentials_revision,
    }


def subsidiary_to_json(live: LiveSubsidiary) -> Json:
    return {
        "id": live.tms_id,
        **fields_to_json(live.fields),
        "noticeOfAssignment": live.notice_of_assignment,
        "invoicing": None if live.invoicing is None else invoicing_to_json(live.invoicing),
        "rtsFtp": None if live.rts_ftp is None else live_ftp_to_json(live.rts_ftp),
        "appliedFrom": None if live.applied_from is None else applied_to_json(live.applied_from),
        "updatedAt": live.updated_at,
        "etag": live.etag,
    }


# -- JSON -> model ------------------------------------------------------------------------------


def _get(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TmsError(f"the TMS sent a malformed {where}: field {key!r} is missing or mistyped")
    return value


def _optional(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    return None if doc.get(key) is None else _get(doc, key, kind, where)


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TmsError(f"the TMS sent a malformed {where}: not a JSON object")
    return value


def fields_from_json(doc: Mapping[str, Any], where: str = "subsidiary") -> SubsidiaryFields:
    return SubsidiaryFields(
        name=_get(doc, "name", str, where),
        mc_number=_get(doc, "mcNumber", str, where),
        dot_number=_get(doc, "dotNumber", str, where),
    )


def invoicing_from_json(doc: Mapping[str, Any], where: str = "invoicing") -> Invoicing:
    method = _get(doc, "method", str, where)
    try:
        parsed = InvoicingMethod(method)
    except ValueError:
        raise TmsError(f"the TMS sent a malformed {where}: unknown 'method'") from None
    return Invoicing(method=parsed, auto_merge=_get(doc, "autoMerge", bool, where))


def ftp_settings_from_json(doc: Mapping[str, Any], where: str = "RTS FTP") -> FtpSettings:
    try:
        protocol = FtpProtocol(_get(doc, "protocol", str, where))
    except ValueError:
        raise TmsError(f"the TMS sent a malformed {where}: unknown 'protocol'") from None
    return FtpSettings(
        protocol=protocol,
        host=_get(doc, "host", str, where),
        port=_get(doc, "port", int, where),
        directory=_get(doc, "directory", str, where),
        host_key=_optional(doc, "hostKey", str, where),
    )


def credentials_from_json(doc: Mapping[str, Any]) -> FtpCredentials:
    where = "credentials"
    return FtpCredentials(
        username=_get(doc, "username", str, where),
        password=Secret(_get(doc, "password", str, where)),
    )


def applied_from_json(doc: Mapping[str, Any], where: str = "appliedFrom") -> AppliedFrom:
    return AppliedFrom(
        commit=_get(doc, "commit", str, where), applied_at=_get(doc, "appliedAt", str, where)
    )


def live_ftp_from_json(doc: Mapping[str, Any]) -> LiveFtp:
    where = "rtsFtp"
    return LiveFtp(
        settings=ftp_settings_from_json(doc, where),
        username=_optional(doc, "username", str, where),
        password_set=_get(doc, "passwordSet", bool, where),
        credentials_revision=_optional(doc, "credentialsRevision", str, where),
    )


def subsidiary_from_json(value: Any) -> LiveSubsidiary:
    doc = _object(value, "subsidiary")
    where = "subsidiary"
    invoicing = doc.get("invoicing")
    ftp = doc.get("rtsFtp")
    applied = doc.get("appliedFrom")
    return LiveSubsidiary(
        tms_id=_get(doc, "id", str, where),
        fields=fields_from_json(doc),
        notice_of_assignment=_optional(doc, "noticeOfAssignment", str, where),
        invoicing=None if invoicing is None else invoicing_from_json(_object(invoicing, where)),
        rts_ftp=None if ftp is None else live_ftp_from_json(_object(ftp, where)),
        etag=_get(doc, "etag", str, where),
        applied_from=None if applied is None else applied_from_json(_object(applied, where)),
        updated_at=_optional(doc, "updatedAt", str, where),
    )
