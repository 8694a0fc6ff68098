"""The alvys backend: the http backend pointed at Alvys (DESIGN §5).

What follows Alvys's published API (docs.alvys.com, checked for this module):

* **Token**: ``POST https://auth.alvys.com/oauth/token`` with a JSON body ``client_id``,
  ``client_secret``, ``audience`` = ``https://api.alvys.com/public/``, ``grant_type`` =
  ``client_credentials``, answering ``access_token``, ``expires_in``, ``token_type`` (the
  "Getting Started" page; the older ``/api/authentication/{tenant_id}/token`` is deprecated).
* **Base URL** ``https://integrations.alvys.com`` and bearer tokens on every call.
* **Subsidiary discovery**: ``POST /api/p/v1/carriers/search`` searches "carriers and
  subsidiaries"; the body takes ``page`` (from 0), ``pageSize`` (> 0) and at least one filter
  (``status``, ``ids``, ``mcNumbers``, ``dotNumbers``). Entities carry ``id``, ``name``,
  ``mcNum``, ``usDotNum``, ``type`` ("Carrier" or "Subsidiary") and ``status``.
* **Rate limit**: 10 requests/s per token, 50 per organization, 429 over it (the defaults of
  :class:`~rtssync.tms.http.HttpOptions` stay under the first).

What is an assumption (Alvys does not publish it):

* The search *response* shape ``{page, pageSize, total, items}`` is taken from Alvys's other
  searches (locations, trips); field names are matched case-insensitively because Alvys's own
  pages spell them both ways.
* Which statuses exist: the docs give examples ("Pending", "Active", "Packet Completed"); the
  filter sent is ``tms.options.carrier_statuses`` (comma-separated), by default
  :data:`DEFAULT_CARRIER_STATUSES`.
* **Everything rtssync writes, and the NOA / invoicing / RTS FTP it reads.** Alvys publishes no
  endpoint for a subsidiary's Notice of Assignment, invoicing method, factoring credentials or
  for creating a subsidiary. This adapter therefore takes those endpoints from ``tms.options``
  (path templates with ``{id}``) and expects them to speak the rtssync contract
  (schemas/tms-api.yaml): ``subsidiary_path`` (GET one subsidiary with its ETag; PATCH its
  fields), ``create_path``, ``noa_path``, ``invoicing_path``, ``rts_ftp_path``,
  ``applied_from_path``. Any that is missing makes the operations needing it fail with a plain
  :class:`RtssyncError` saying so - never a guess at an undocumented URL.

Reading costs: the documented search finds the subsidiaries page by page; their NOA, invoicing
and RTS FTP then need one ``subsidiary_path`` GET each (Alvys has no search carrying them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from rtssync.config import Settings
from rtssync.errors import RtssyncError, TmsError
from rtssync.model import LiveSubsidiary, SubsidiaryFields
from rtssync.tms.http import (
    ApiPaths,
    ClientCredentials,
    HttpBackend,
    HttpOptions,
    credentials_from_env,
    options_from_settings,
)

ALVYS_BASE_URL = "https://integrations.alvys.com"
ALVYS_TOKEN_URL = "https://auth.alvys.com/oauth/token"  # noqa: S105 - a URL, not a password
ALVYS_AUDIENCE = "https://api.alvys.com/public/"
CARRIER_SEARCH_PATH = "/api/p/v1/carriers/search"
SUBSIDIARY_TYPE = "Subsidiary"
DEFAULT_CARRIER_STATUSES = ("Active", "Pending", "Packet Completed", "Inactive")

PATH_OPTIONS: dict[str, str] = {
    "subsidiary": "subsidiary_path",
    "create": "create_path",
    "notice_of_assignment": "noa_path",
    "invoicing": "invoicing_path",
    "rts_ftp": "rts_ftp_path",
    "applied_from": "applied_from_path",
}
"""ApiPaths field -> the tms.options key that configures it."""

_WHAT_ALVYS_LACKS: dict[str, str] = {
    "subsidiary": "reading a subsidiary's NOA, invoicing and RTS FTP settings",
    "create": "creating a subsidiary",
    "notice_of_assignment": "a subsidiary's Notice of Assignment",
    "invoicing": "a subsidiary's invoicing method",
    "rts_ftp": "a subsidiary's RTS FTP (factoring) credentials",
    "applied_from": "recording what a subsidiary was applied from",
}


@dataclass(frozen=True, slots=True)
class DiscoveredSubsidiary:
    """A subsidiary as Alvys's documented carrier search returns it."""

    tms_id: str
    fields: SubsidiaryFields
    status: str | None


def paths_from_options(options: Mapping[str, str]) -> ApiPaths:
    """Alvys's documented token URL; the undocumented endpoints only where configured."""
    configured = {field: options.get(key) or None for field, key in PATH_OPTIONS.items()}
    return ApiPaths(token_url=ALVYS_TOKEN_URL, search=None, **configured)


class AlvysBackend(HttpBackend):
    """The TMS backend for Alvys. See the module docstring for what is documented and what
    is configured."""

    def __init__(
        self,
        credentials: ClientCredentials,
        options: HttpOptions | None = None,
        *,
        base_url: str = ALVYS_BASE_URL,
        paths: ApiPaths | None = None,
        carrier_statuses: Sequence[str] = DEFAULT_CARRIER_STATUSES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if credentials.audience is None:
            credentials = ClientCredentials(
                credentials.client_id, credentials.client_secret, ALVYS_AUDIENCE
            )
        super().__init__(
            base_url,
            credentials,
            options,
            paths=paths or paths_from_options({}),
            transport=transport,
        )
        self.carrier_statuses = tuple(carrier_statuses)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlvysBackend:
        options = settings.tms.options
        statuses = [s.strip() for s in options.get("carrier_statuses", "").split(",") if s.strip()]
        return cls(
            credentials_from_env(options.get("audience", ALVYS_AUDIENCE)),
            options_from_settings(options),
            base_url=(settings.tms.url or ALVYS_BASE_URL).strip(),
            paths=paths_from_options(options),
            carrier_statuses=statuses or DEFAULT_CARRIER_STATUSES,
        )

    def missing_path(self, name: str) -> RtssyncError:
        option = PATH_OPTIONS.get(name, name)
        lacking = _WHAT_ALVYS_LACKS.get(name, name)
        return RtssyncError(
            f"Alvys does not publish an API endpoint for {lacking}. Set tms.options.{option} in "
            "rtssync.yaml to the path of an endpoint (with {id} for the subsidiary) that speaks "
            "the rtssync TMS contract (schemas/tms-api.yaml), e.g. one your Alvys account team "
            "or an integration proxy provides."
        )

    # -- reads ----------------------------------------------------------------------------------

    def list_subsidiaries(self) -> list[LiveSubsidiary]:
        """Discovery through the documented search, then each subsidiary's details through
        the configured ``subsidiary_path`` (checked first, before any request)."""
        self._path("subsidiary", "-")
        discovered = self.discover_subsidiaries()
        return self.run_concurrently(
            [lambda i=d.tms_id: self.get_subsidiary(i) for d in discovered]  # type: ignore[misc]
        )

    def discover_subsidiaries(self) -> list[DiscoveredSubsidiary]:
        """Every entity of type "Subsidiary" in the documented carrier search, page by page."""
        found: dict[str, DiscoveredSubsidiary] = {}
        total, items = self._carrier_page(0)
        pages = math.ceil(total / self.options.page_size)
        rest = self.run_concurrently(
            [lambda p=p: self._carrier_page(p)[1] for p in range(1, pages)]  # type: ignore[misc]
        )
        for page_items in [items, *rest]:
            for item in page_items:
                if _text(item, "type") == SUBSIDIARY_TYPE:
                    sub = _discovered(item)
                    found.setdefault(sub.tms_id, sub)
        return list(found.values())

    def _carrier_page(self, page: int) -> tuple[int, list[Mapping[str, Any]]]:
        what = f"search Alvys carriers (page {page})"
        body = {
            "page": page,
            "pageSize": self.options.page_size,
            "status": list(self.carrier_statuses),
        }
        result = self.api.call("POST", CARRIER_SEARCH_PATH, json=body, what=what)
        document = _lower_keys(self.api.json_object(result.response, what))
        total, items = document.get("total"), document.get("items")
        if not isinstance(total, int) or not isinstance(items, list):
            raise TmsError(f"{what}: Alvys sent a page without 'total' and 'items'")
        return total, [_lower_keys(item) for item in items if isinstance(item, Mapping)]


def _lower_keys(value: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): item for key, item in value.items()}


def _text(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key.lower())
    return value if isinstance(value, str) else None


def _discovered(item: Mapping[str, Any]) -> DiscoveredSubsidiary:
    tms_id = _text(item, "id")
    if not tms_id:
        raise TmsError("Alvys sent a subsidiary without an id")
    fields = SubsidiaryFields(
        name=_text(item, "name") or "",
        mc_number=_text(item, "mcNum") or "",
        dot_number=_text(item, "usDotNum") or "",
    )
    return DiscoveredSubsidiary(tms_id, fields, _text(item, "status"))
