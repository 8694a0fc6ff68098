"""What the local TMS accepts: the checks a real TMS makes before it stores a write.

They live beside the store (not in the HTTP layer) so that the local backend and the reference
server refuse exactly the same things. Messages name fields, never values that could be secret.
"""

from __future__ import annotations

from rtssync.errors import TmsError
from rtssync.model import AppliedFrom, FtpCredentials, FtpSettings, SubsidiaryFields

MAX_NOTICE_CHARS = 10_000
"""DESIGN §2.1 caps the NOA at 10,000 characters; the TMS stores at least that much."""

MAX_IDEMPOTENCY_KEY_CHARS = 255
MAX_PAGE_SIZE = 1_000


def check_fields(fields: SubsidiaryFields) -> None:
    for label, value in (
        ("name", fields.name),
        ("MC number", fields.mc_number),
        ("DOT number", fields.dot_number),
    ):
        if not value.strip():
            raise TmsError(f"the subsidiary's {label} must not be empty")


def check_notice(text: str) -> None:
    if not text.strip():
        raise TmsError("the notice of assignment must not be empty")
    if len(text) > MAX_NOTICE_CHARS:
        raise TmsError(
            f"the notice of assignment has {len(text)} characters; "
            f"the TMS stores at most {MAX_NOTICE_CHARS}"
        )


def check_ftp_settings(settings: FtpSettings) -> None:
    if not settings.host.strip():
        raise TmsError("the RTS FTP host must not be empty")
    if not 1 <= settings.port <= 65_535:
        raise TmsError(f"the RTS FTP port {settings.port} is not between 1 and 65535")
    if not settings.directory.strip():
        raise TmsError("the RTS FTP directory must not be empty")


def check_credentials(credentials: FtpCredentials) -> None:
    """Only emptiness is checked: a password's content never appears in a message."""
    if not credentials.username.strip():
        raise TmsError("the RTS FTP username must not be empty")
    if not credentials.password.reveal():
        raise TmsError("the RTS FTP password must not be empty")


def check_applied(applied: AppliedFrom) -> None:
    if not applied.commit.strip():
        raise TmsError("the applied commit must not be empty")
    if not applied.applied_at.strip():
        raise TmsError("the applied time must not be empty")


def check_idempotency_key(key: str) -> None:
    if not key.strip():
        raise TmsError("a create needs a non-empty idempotency key")
    if len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise TmsError(f"an idempotency key has at most {MAX_IDEMPOTENCY_KEY_CHARS} characters")


def check_page(page: int, page_size: int) -> None:
    if page < 0:
        raise TmsError(f"page {page} is negative; pages count from 0")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise TmsError(f"page size {page_size} is not between 1 and {MAX_PAGE_SIZE}")
