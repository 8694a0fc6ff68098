"""``rtssync import``: write config files for live subsidiaries that have none.

A live subsidiary "has a file" when the matcher (tms_id, MC, DOT, name) pairs it with one, so
import never writes a second file for a subsidiary that a file already describes. The username
is encrypted per ``.sops.yaml`` as it is written; the password cannot be read from the TMS
(write-only there), so the file says how to set it and ``validate`` reports it until it is set.

Subsidiaries without RTS FTP settings are skipped with the reason: rtssync manages RTS
factoring, and a file without a host and login would be a guess, not an import.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from rtssync.decrypt import USERNAME_PATH
from rtssync.errors import RtssyncError
from rtssync.model import DesiredSubsidiary, Invoicing, InvoicingMethod, LiveSubsidiary
from rtssync.sops import find_creation_rule
from rtssync.sops.edit import set_encrypted_values

_PLACEHOLDER = "rtssync-import-placeholder"


@dataclass(frozen=True, slots=True)
class ImportedFile:
    tms_id: str
    key: str
    path: Path


@dataclass(frozen=True, slots=True)
class SkippedSubsidiary:
    tms_id: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    written: tuple[ImportedFile, ...]
    skipped: tuple[SkippedSubsidiary, ...]


def subsidiary_key(name: str, taken: Collection[str]) -> str:
    """A file stem for ``name``: lower-case ASCII words joined by dashes, unique in ``taken``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "subsidiary"
    key, suffix = base, 2
    while key in taken:
        key, suffix = f"{base}-{suffix}", suffix + 1
    return key


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return yaml.safe_dump(value, default_style='"', allow_unicode=True, width=10_000).strip()


def _literal_block(text: str, indent: str = "  ") -> str:
    """The NOA as a ``|`` block, or quoted when a block cannot hold it exactly."""
    if text and not text.startswith((" ", "\t")) and all(c == "\n" or c >= " " for c in text):
        chomp = "" if text.endswith("\n") and not text.endswith("\n\n") else "-"
        if text.endswith("\n\n"):
            chomp = "+"
        body = "\n".join(indent + line if line else "" for line in text.rstrip("\n").split("\n"))
        return f"|{chomp}\n{body}\n"
    return _quoted(text) + "\n"


def _invoicing_lines(invoicing: Invoicing | None) -> str:
    if invoicing is None:
        return (
            "invoicing:\n"
            "  # not set in the TMS: factoring with RTS needs these, the next apply sets them\n"
            f"  method: {InvoicingMethod.FACTORING.value}\n"
            "  auto_merge: true\n"
        )
    return (
        "invoicing:\n"
        f"  method: {invoicing.method.value}\n"
        f"  auto_merge: {'true' if invoicing.auto_merge else 'false'}\n"
    )


def render_subsidiary_file(live: LiveSubsidiary, key: str) -> str:
    """The file for ``live`` with a placeholder username, before encryption."""
    ftp = live.rts_ftp
    assert ftp is not None  # callers skip subsidiaries without RTS FTP
    settings = ftp.settings
    noa = live.notice_of_assignment or ""
    host_key = _quoted(settings.host_key) if settings.host_key else "null"
    return (
        "# yaml-language-server: $schema=../../schemas/subsidiary.schema.json\n"
        f"# Imported from the TMS by rtssync import (subsidiary {live.tms_id}).\n"
        f"name: {_quoted(live.fields.name)}\n"
        f"tms_id: {_quoted(live.tms_id)}\n"
        f"mc_number: {_quoted(live.fields.mc_number)}\n"
        f"dot_number: {_quoted(live.fields.dot_number)}\n"
        f"notice_of_assignment: {_literal_block(noa)}"
        + _invoicing_lines(live.invoicing)
        + "factoring:\n"
        "  provider: rts\n"
        "  ftp:\n"
        f"    protocol: {settings.protocol.value}\n"
        f"    host: {_quoted(settings.host)}\n"
        f"    port: {settings.port}\n"
        f"    directory: {_quoted(settings.directory)}\n"
        f"    host_key: {host_key}\n"
        f"    username: {_PLACEHOLDER}\n"
        "    # password: the TMS never returns it. Set it (with the username) from RTS's\n"
        f"    # credentials email: rtssync secrets set {key} --username USERNAME --password-stdin\n"
    )


def _skip_reason(live: LiveSubsidiary) -> str | None:
    if live.rts_ftp is None:
        return "no RTS FTP settings in the TMS; write its file by hand if it factors with RTS"
    if not live.rts_ftp.username:
        return "the TMS has RTS FTP settings but no username; write its file by hand"
    if not (live.notice_of_assignment or "").strip():
        return "no Notice of Assignment in the TMS; write its file by hand with RTS's NOA text"
    return None


def _write_new_file(path: Path, text: str) -> None:
    """Create ``path`` atomically; refuse if it exists. ``text`` holds ciphertext only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.link(temp, path)  # fails if path exists: never overwrite a file someone wrote
    except FileExistsError:
        raise RtssyncError(f"{path}: already exists; import does not overwrite files") from None
    finally:
        Path(temp).unlink(missing_ok=True)


def import_subsidiaries(
    root: Path,
    config_dir: Path,
    unmatched: Sequence[LiveSubsidiary],
    existing: Mapping[str, DesiredSubsidiary],
    *,
    only: Collection[str] = (),
) -> ImportResult:
    """Write one encrypted file per live subsidiary in ``unmatched`` (those no file describes).

    ``only`` restricts to these TMS ids; naming an id that is unknown or already has a file is
    an error, so a typo never silently imports nothing.
    """
    by_id = {live.tms_id: live for live in unmatched}
    unknown = [tms_id for tms_id in only if tms_id not in by_id]
    if unknown:
        raise RtssyncError(
            f"no live subsidiary without a file has id {', '.join(sorted(unknown))}; "
            "run rtssync plan to see which are unmanaged"
        )
    chosen = [by_id[t] for t in only] if only else list(unmatched)
    taken = set(existing) | {p.stem for p in (root / config_dir).glob("*.yaml")}
    written: list[ImportedFile] = []
    skipped: list[SkippedSubsidiary] = []
    for live in sorted(chosen, key=lambda item: (item.fields.name, item.tms_id)):
        reason = _skip_reason(live)
        if reason:
            skipped.append(SkippedSubsidiary(live.tms_id, live.fields.name, reason))
            continue
        key = subsidiary_key(live.fields.name, taken)
        taken.add(key)
        path = root / config_dir / f"{key}.yaml"
        written.append(_import_one(root, path, key, live))
    return ImportResult(tuple(written), tuple(skipped))


def _import_one(root: Path, path: Path, key: str, live: LiveSubsidiary) -> ImportedFile:
    assert live.rts_ftp is not None
    assert live.rts_ftp.username
    rule = find_creation_rule(root, path)
    text = set_encrypted_values(
        path, render_subsidiary_file(live, key), rule, {USERNAME_PATH: live.rts_ftp.username}
    )
    _write_new_file(path, text)
    return ImportedFile(live.tms_id, key, path)
