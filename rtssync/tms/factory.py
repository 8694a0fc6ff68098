"""Opening the TMS backend that rtssync.yaml names (DESIGN §2.3, §5).

The remote backends are imported only when asked for, so that ``validate`` and the local
quickstart never pay for the HTTP stack. Their settings are checked here, before
any import or network call, so a missing URL or client credential is one clear message.
"""

from __future__ import annotations

import os

from rtssync.config import Settings, TmsKind
from rtssync.errors import RtssyncError
from rtssync.tms.base import TmsBackend
from rtssync.tms.local import LocalBackend

CLIENT_ID_ENV = "RTSSYNC_TMS_CLIENT_ID"
CLIENT_SECRET_ENV = "RTSSYNC_TMS_CLIENT_SECRET"  # noqa: S105 - the variable name, not a secret


def open_backend(settings: Settings) -> TmsBackend:
    """The backend for ``settings.tms``; the caller closes it.

    ``local`` opens (creating on first use) the SQLite file at ``settings.tms.path``, relative to
    the config repository root. ``http`` and ``alvys`` need ``tms.url`` and the client id and
    secret in the environment.
    """
    kind = settings.tms.kind
    if kind is TmsKind.LOCAL:
        return LocalBackend(settings.root / settings.tms.path)
    _require_remote_settings(settings)
    return _open_remote(settings)


def _require_remote_settings(settings: Settings) -> None:
    kind = settings.tms.kind
    if not (settings.tms.url or "").strip():
        # Required even for alvys, whose backend knows the production URL: which TMS an apply
        # changes must be written down, never a default that could be production.
        raise RtssyncError(
            f"{settings.source}: tms.kind is {kind.value} but tms.url is not set; "
            "add the TMS's base URL under tms.url"
        )
    missing = [
        name for name in (CLIENT_ID_ENV, CLIENT_SECRET_ENV) if not os.environ.get(name, "").strip()
    ]
    if missing:
        raise RtssyncError(
            f"the {kind.value} TMS backend needs {' and '.join(missing)} in the environment "
            "(the OAuth2 client credentials for the TMS API)"
        )


def _open_remote(settings: Settings) -> TmsBackend:
    # Imported here, not at the top: only a remote backend pays for the HTTP stack, and
    # rtssync.tms.http itself imports this module's variable names.
    if settings.tms.kind is TmsKind.ALVYS:
        from rtssync.tms.alvys import AlvysBackend

        return AlvysBackend.from_settings(settings)
    from rtssync.tms.http import HttpBackend

    return HttpBackend.from_settings(settings)
