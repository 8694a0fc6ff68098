"""Opening the TMS backend that rtssync.yaml names (DESIGN §2.3, §5).

The remote backends are imported only when asked for, so that ``validate`` and the local
quickstart never pay for (or break on) the HTTP stack. Their settings are checked here, before
any import or network call, so a missing URL or client credential is one clear message.
"""

from __future__ import annotations

import importlib
import os
from typing import Protocol, cast

from rtssync.config import Settings, TmsKind
from rtssync.errors import RtssyncError
from rtssync.tms.base import TmsBackend
from rtssync.tms.local import LocalBackend

CLIENT_ID_ENV = "RTSSYNC_TMS_CLIENT_ID"
CLIENT_SECRET_ENV = "RTSSYNC_TMS_CLIENT_SECRET"  # noqa: S105 - the variable name, not a secret

_REMOTE: dict[TmsKind, tuple[str, str]] = {
    TmsKind.HTTP: ("rtssync.tms.http", "HttpBackend"),
    TmsKind.ALVYS: ("rtssync.tms.alvys", "AlvysBackend"),
}
"""kind -> (module, class); each class has ``from_settings(settings) -> TmsBackend``."""


class _RemoteBackendClass(Protocol):
    def from_settings(self, settings: Settings, /) -> TmsBackend: ...


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
    return _remote_class(kind).from_settings(settings)


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


def _remote_class(kind: TmsKind) -> _RemoteBackendClass:
    module_name, class_name = _REMOTE[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # a broken dependency inside the backend is a bug, not a missing backend
        raise RtssyncError(
            f"the {kind.value} TMS backend is not available in this installation"
        ) from exc
    return cast(_RemoteBackendClass, getattr(module, class_name))
