"""The decrypt stage for validated subsidiaries (DESIGN §4): values out of their SOPS files.

A subsidiary loaded by :func:`rtssync.desired.load_desired_state` carries its file's data as
validation parsed it, so its values decrypt from those very bytes (the ones whose digest a plan
records) without reading and parsing the file again; one built any other way reads its file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rtssync.model import DesiredSubsidiary
from rtssync.sops import Identities, ValuePath, decrypt_parsed_values, decrypt_values


def decrypt_subsidiary_values(
    wanted: DesiredSubsidiary,
    paths: Iterable[ValuePath],
    *,
    identities: Identities | None = None,
) -> dict[ValuePath, Any]:
    """The requested values of ``wanted``'s file, MAC verified (SopsError naming the file)."""
    if wanted.parsed is not None:
        return decrypt_parsed_values(wanted.source, wanted.parsed, paths, identities=identities)
    return decrypt_values(wanted.source, wanted.source.read_bytes(), paths,
                          identities=identities)
