"""Finding a canary credential in anything a command produced: text, files, whole folders.

The spellings are the end-to-end harness's (plain, base64, URL-encoded, JSON-escaped, repr),
so the reliability suite and the e2e tests agree on what counts as a leak.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import canary_forms

CANARY_USERNAME = "c4nary-user-5b1d"
"""An RTS FTP username no output should show (plans show 'changed', never the value)."""


@dataclass(frozen=True, slots=True)
class Finding:
    where: str
    form: str


def findings_in_text(where: str, text: str | bytes, secrets: Iterable[str]) -> list[Finding]:
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    found = []
    for secret in secrets:
        for form in canary_forms(secret):
            if form.encode("utf-8") in data:
                found.append(Finding(where, form))
    return found


def files_under(*roots: Path, skip: Iterable[Path] = ()) -> list[Path]:
    """Every regular file below the roots, except ``skip`` (exact paths) and .git objects."""
    skipped = {p.resolve() for p in skip}
    found = []
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in names:
                path = Path(folder) / name
                if path.is_file() and path.resolve() not in skipped:
                    found.append(path)
    return found


def findings_in_files(paths: Iterable[Path], secrets: Iterable[str]) -> list[Finding]:
    wanted = list(secrets)
    found = []
    for path in paths:
        found += findings_in_text(str(path), path.read_bytes(), wanted)
    return found
