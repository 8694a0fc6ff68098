"""The http backend: the TMS contract of schemas/tms-api.yaml as a TmsBackend (DESIGN §5).

Requests go through :class:`~rtssync.tms.http_client.ApiClient` (one reused token, pacing under
the rate limit, retries with backoff and jitter, no secrets in errors or logs). This module
adds what depends on the endpoints:

* **Whole pages**: the search items carry everything a :class:`LiveSubsidiary` needs, so reading
  N subsidiaries costs ceil(N / page_size) searches and no per-subsidiary GET.
* **Retries that are safe**: reads always; creates because they carry an Idempotency-Key (the
  server replays the first response); updates because they carry If-Match. An update whose
  first attempt did succeed but whose response was lost comes back 412 on the retry: the backend
  then re-reads the subsidiary and, if it already is what the update intended, returns it as the
  success it was. Otherwise the 412 is a real conflict (ConflictError).
"""

from __future__ import annotations

import logging
import math
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import httpx

from rtssync.config import Settings
from rtssync.errors import RtssyncError, TmsError
from rtssync.model import (
    AppliedFrom,
    FtpCredentials,
    FtpSettings,
    Invoicing,
    LiveSubsidiary,
    SubsidiaryFields,
)
from rtssync.tms import wire
from rtssync.tms.http_client import (
    DEFAULT_TOKEN_PATH,
    ApiClient,
    ClientCredentials,
    HttpOptions,
    credentials_from_env,
    options_from_settings,
)

__all__ = [
    "ApiPaths",
    "ClientCredentials",
    "HttpBackend",
    "HttpOptions",
    "credentials_from_env",
    "options_from_settings",
]

log = logging.getLogger("rtssync.tms.http")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ApiPaths:
    """Where each operation lives; ``{id}`` is the subsidiary id. ``None``: not available (the
    backend then raises :meth:`HttpBackend.missing_path`'s error)."""

    token_url: str = DEFAULT_TOKEN_PATH
    search: str | None = "/api/v1/subsidiaries/search"
    create: str | None = "/api/v1/subsidiaries"
    subsidiary: str | None = "/api/v1/subsidiaries/{id}"
    notice_of_assignment: str | None = "/api/v1/subsidiaries/{id}/notice-of-assignment"
    invoicing: str | None = "/api/v1/subsidiaries/{id}/invoicing"
    rts_ftp: str | None = "/api/v1/subsidiaries/{id}/rts-ftp"
    applied_from: str | None = "/api/v1/subsidiaries/{id}/applied-from"


class HttpBackend:
    """:class:`~rtssync.tms.base.TmsBackend` over the contract's REST API.

    Every request goes through :attr:`api` (an :class:`ApiClient`: token, pacing, retries);
    this class decides which endpoint each protocol call uses and which retries are safe.
    ``transport`` is for tests of adapters to clouds that cannot run here (httpx.MockTransport);
    everything else talks to a real server.
    """

    def __init__(
        self,
        base_url: str,
        credentials: ClientCredentials,
        options: HttpOptions | None = None,
        *,
        paths: ApiPaths | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.options = options or HttpOptions()
        self.paths = paths or ApiPaths()
        self.api = ApiClient(
            base_url,
            credentials,
            self.options,
            token_url=self.paths.token_url,
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpBackend:
        """The backend rtssync.yaml describes: ``tms.url``, client id and secret from the
        environment, tuning from ``tms.options``."""
        url = (settings.tms.url or "").strip()
        if not url:
            raise RtssyncError(f"{settings.source}: tms.url is needed for the http TMS backend")
        options = settings.tms.options
        credentials = credentials_from_env(options.get("audience"))
        paths = ApiPaths(token_url=options.get("token_url", DEFAULT_TOKEN_PATH))
        return cls(url, credentials, options_from_settings(options), paths=paths)

    # -- the protocol: reads --------------------------------------------------------------------

    def list_subsidiaries(self) -> list[LiveSubsidiary]:
        """Every subsidiary, page by page. If the TMS changes while it is read (the total moves),
        the read starts over, so the result is one consistent listing."""
        for _ in range(3):
            listing = self._read_all_pages()
            if listing is not None:
                return listing
        raise TmsError("the TMS kept changing while its subsidiaries were read; try again")

    def get_subsidiary(self, tms_id: str) -> LiveSubsidiary:
        path = self._path("subsidiary", tms_id)
        result = self.api.call("GET", path, what=f"read subsidiary {tms_id}")
        return self._subsidiary(result.response, f"read subsidiary {tms_id}")

    # -- the protocol: writes -------------------------------------------------------------------

    def create_subsidiary(
        self, fields: SubsidiaryFields, *, idempotency_key: str
    ) -> LiveSubsidiary:
        what = "create a subsidiary"
        result = self.api.call(
            "POST",
            self._path("create"),
            json=wire.fields_to_json(fields),
            headers={"Idempotency-Key": idempotency_key},
            what=what,
        )
        return self._subsidiary(result.response, what)

    def update_subsidiary(
        self, tms_id: str, fields: SubsidiaryFields, *, if_match: str
    ) -> LiveSubsidiary:
        return self._versioned_write(
            "PATCH", self._path("subsidiary", tms_id), tms_id,
            body=wire.fields_to_json(fields), if_match=if_match,
            done=lambda live: live.fields == fields,
            what=f"update subsidiary {tms_id}",
        )  # fmt: skip

    def set_notice_of_assignment(self, tms_id: str, text: str, *, if_match: str) -> LiveSubsidiary:
        return self._versioned_write(
            "PUT", self._path("notice_of_assignment", tms_id), tms_id,
            body={"text": text}, if_match=if_match,
            done=lambda live: live.notice_of_assignment == text,
            what=f"set the notice of assignment of {tms_id}",
        )  # fmt: skip

    def set_invoicing(self, tms_id: str, invoicing: Invoicing, *, if_match: str) -> LiveSubsidiary:
        return self._versioned_write(
            "PUT", self._path("invoicing", tms_id), tms_id,
            body=wire.invoicing_to_json(invoicing), if_match=if_match,
            done=lambda live: live.invoicing == invoicing,
            what=f"set the invoicing of {tms_id}",
        )  # fmt: skip

    def put_rts_ftp(
        self,
        tms_id: str,
        settings: FtpSettings,
        *,
        credentials: FtpCredentials | None,
        credentials_revision: str | None,
        if_match: str,
    ) -> LiveSubsidiary:
        body = wire.ftp_settings_to_json(settings)
        if credentials is not None:
            body["credentials"] = wire.credentials_to_json(credentials)
        if credentials is not None or credentials_revision is not None:
            body["credentialsRevision"] = credentials_revision  # the server judges the pair
        # The username is encrypted in git too: a TMS error echoing either is redacted.
        secrets = ([credentials.password.reveal(), credentials.username]
                   if credentials is not None else [])
        return self._versioned_write(
            "PUT", self._path("rts_ftp", tms_id), tms_id,
            body=body, if_match=if_match,
            done=lambda live: _ftp_done(live, settings, credentials, credentials_revision),
            what=f"set the RTS FTP settings of {tms_id}", secrets=secrets,
        )  # fmt: skip

    def remove_rts_ftp(self, tms_id: str, *, if_match: str) -> LiveSubsidiary:
        return self._versioned_write(
            "DELETE", self._path("rts_ftp", tms_id), tms_id,
            body=None, if_match=if_match,
            done=lambda live: live.rts_ftp is None,
            what=f"remove the RTS FTP settings of {tms_id}",
        )  # fmt: skip

    def record_applied(self, tms_id: str, applied: AppliedFrom, *, if_match: str) -> LiveSubsidiary:
        return self._versioned_write(
            "PUT", self._path("applied_from", tms_id), tms_id,
            body=wire.applied_to_json(applied), if_match=if_match,
            done=lambda live: live.applied_from == applied,
            what=f"record what {tms_id} was applied from",
        )  # fmt: skip

    # -- concurrency and lifecycle --------------------------------------------------------------

    def run_concurrently(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Run independent calls (e.g. writes to different subsidiaries) on a small thread
        pool; results in the order given. The first exception is raised after all finished."""
        return self.api.run_concurrently(calls)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- hooks for adapters (alvys) -------------------------------------------------------------

    def missing_path(self, name: str) -> RtssyncError:
        """The error for an operation this TMS has no endpoint for."""
        return RtssyncError(f"the TMS backend has no endpoint configured for {name}")

    def _path(self, name: str, tms_id: str | None = None) -> str:
        template = getattr(self.paths, name)
        if template is None:
            raise self.missing_path(name)
        if tms_id is None:
            return str(template)
        return str(template).replace("{id}", urllib.parse.quote(tms_id, safe=""))

    # -- paging ---------------------------------------------------------------------------------

    def _read_all_pages(self) -> list[LiveSubsidiary] | None:
        """All pages, or None if the total changed between pages (the caller starts over)."""
        first_total, first_items = self._search_page(0)
        size = self.options.page_size
        pages = math.ceil(first_total / size)
        rest = self.run_concurrently(
            [lambda p=p: self._search_page(p) for p in range(1, pages)]  # type: ignore[misc]
        )
        if any(total != first_total for total, _ in rest):
            return None
        listing: dict[str, LiveSubsidiary] = {}
        for _, items in [(first_total, first_items), *rest]:
            for item in items:
                listing.setdefault(item.tms_id, item)
        return list(listing.values()) if len(listing) == first_total else None

    def _search_page(self, page: int) -> tuple[int, list[LiveSubsidiary]]:
        what = f"search subsidiaries (page {page})"
        body = {"page": page, "pageSize": self.options.page_size}
        result = self.api.call("POST", self._path("search"), json=body, what=what)
        document = self.api.json_object(result.response, what)
        total, items = document.get("total"), document.get("items")
        if not isinstance(total, int) or not isinstance(items, list):
            raise TmsError(f"{what}: the TMS sent a page without 'total' and 'items'")
        return total, [wire.subsidiary_from_json(item) for item in items]

    # -- versioned writes -----------------------------------------------------------------------

    def _versioned_write(
        self,
        method: str,
        path: str,
        tms_id: str,
        *,
        body: Mapping[str, Any] | None,
        if_match: str,
        done: Callable[[LiveSubsidiary], bool],
        what: str,
        secrets: Sequence[str] = (),
    ) -> LiveSubsidiary:
        """A write under If-Match, retried; a 412 after a retry is checked against ``done``
        (the earlier attempt may have been the one that succeeded)."""
        result = self.api.call(
            method, path, json=body, headers={"If-Match": if_match}, what=what, secrets=secrets
        )
        if result.response.status_code == 412 and result.attempts > 1:
            current = self.get_subsidiary(tms_id)
            if done(current):
                log.info("%s: an earlier attempt had succeeded (its response was lost)", what)
                return current
        return self._subsidiary(result.response, what, secrets)

    # -- responses ------------------------------------------------------------------------------

    def _subsidiary(
        self, response: httpx.Response, what: str, secrets: Sequence[str] = ()
    ) -> LiveSubsidiary:
        return wire.subsidiary_from_json(self.api.json_object(response, what, secrets))


def _ftp_done(
    live: LiveSubsidiary,
    settings: FtpSettings,
    credentials: FtpCredentials | None,
    revision: str | None,
) -> bool:
    """Whether ``live`` already has what put_rts_ftp asked for. A password cannot be read
    back, so new credentials count as stored only if their revision (set with them) is there."""
    ftp = live.rts_ftp
    if ftp is None or ftp.settings != settings:
        return False
    if credentials is None:
        return True
    return (
        revision is not None
        and ftp.credentials_revision == revision
        and ftp.username == credentials.username
        and ftp.password_set
    )
