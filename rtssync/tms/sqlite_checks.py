"""What the local TMS accepts: the checks a real TMS makes before it stores a write.

They live beside the store (not in the HTTP layer) so that the local backend and the reference
server refuse exactly the same things. Messages name fields, never values that could be secret.
"""

from __future__ import annotations

from collections.abc import Sequence

from rtssync.errors import TmsError
from rtssync.model import AppliedFrom, FtpCredentials, FtpSettings, SubsidiaryFields

MAX_NOTICE_CHARS = 10_000
"""DESIGN §2.1 caps the NOA at 10,000 characters; the TMS stores at least that much."""

MAX_IDEMPOTENCY_KEY_CHARS = 255
MAX_PAGE_SIZE = 1_000
MAX_TEXT_CHARS = 200
"""Names, numbers, hosts, usernames, revisions: the limit schemas/tms-api.yaml sets."""
MAX_LONG_TEXT_CHARS = 500
"""FTP directories and passwords."""
MAX_HOST_KEY_CHARS = 2_000
MAX_APPLIED_CHARS = 100


def _check_text(label: str, value: str, limit: int = MAX_TEXT_CHARS) -> None:
    """Non-blank and within ``limit``; the message names the field, never the value."""
    if not value.strip():
        raise TmsError(f"the {label} must not be empty")
    if len(value) > limit:
        raise TmsError(f"the {label} has more than {limit} characters")


def check_fields(fields: SubsidiaryFields) -> None:
    _check_text("subsidiary's name", fields.name)
    _check_text("subsidiary's MC number", fields.mc_number)
    _check_text("subsidiary's DOT number", fields.dot_number)


def check_notice(text: str) -> None:
    if not text.strip():
        raise TmsError("the notice of assignment must not be empty")
    if len(text) > MAX_NOTICE_CHARS:
        raise TmsError(
            f"the notice of assignment has {len(text)} characters; "
            f"the TMS stores at most {MAX_NOTICE_CHARS}"
        )


def check_ftp_settings(settings: FtpSettings) -> None:
    _check_text("RTS FTP host", settings.host)
    if not 1 <= settings.port <= 65_535:
        raise TmsError(f"the RTS FTP port {settings.port} is not between 1 and 65535")
    _check_text("RTS FTP directory", settings.directory, MAX_LONG_TEXT_CHARS)
    if settings.host_key is not None and len(settings.host_key) > MAX_HOST_KEY_CHARS:
        raise TmsError(f"the RTS FTP host key has more than {MAX_HOST_KEY_CHARS} characters")


def check_credentials(credentials: FtpCredentials, revision: str | None = None) -> None:
    """Only emptiness and length are checked: a password's content never reaches a message."""
    _check_text("RTS FTP username", credentials.username)
    password = credentials.password.reveal()
    if not password:
        raise TmsError("the RTS FTP password must not be empty")
    if len(password) > MAX_LONG_TEXT_CHARS:
        raise TmsError(f"the RTS FTP password has more than {MAX_LONG_TEXT_CHARS} characters")
    if revision is not None and len(revision) > MAX_TEXT_CHARS:
        raise TmsError(f"the credentials revision has more than {MAX_TEXT_CHARS} characters")


def check_applied(applied: AppliedFrom) -> None:
    _check_text("applied commit", applied.commit, MAX_APPLIED_CHARS)
    _check_text("applied time", applied.applied_at, MAX_APPLIED_CHARS)


def check_idempotency_key(key: str) -> None:
    if not key.strip():
        raise TmsError("a create needs a non-empty idempotency key")
    if len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise TmsError(f"an idempotency key has at most {MAX_IDEMPOTENCY_KEY_CHARS} characters")


def check_ids(ids: Sequence[str]) -> None:
    """A search by ids is for a page's worth of known subsidiaries, not the whole TMS."""
    if len(ids) > MAX_PAGE_SIZE:
        raise TmsError(f"a search names at most {MAX_PAGE_SIZE} ids, not {len(ids)}")


def check_page(page: int, page_size: int) -> None:
    if page < 0:
        raise TmsError(f"page {page} is negative; pages count from 0")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise TmsError(f"page size {page_size} is not between 1 and {MAX_PAGE_SIZE}")
