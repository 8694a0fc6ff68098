"""The decrypt stage for validated subsidiaries (DESIGN §4): values out of their SOPS files.

A subsidiary loaded by :func:`rtssync.desired.load_desired_state` carries its file's data as
validation parsed it, so its values decrypt from those very bytes (the ones whose digest a plan
records) without reading and parsing the file again; one built any other way reads its file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rtssync.errors import SopsError
from rtssync.model import DesiredSubsidiary, FtpCredentials, Secret
from rtssync.sops import Identities, ValuePath, decrypt_parsed_values, decrypt_values

USERNAME_PATH: ValuePath = ("factoring", "ftp", "username")
PASSWORD_PATH: ValuePath = ("factoring", "ftp", "password")


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


def decrypt_credentials(
    wanted: DesiredSubsidiary, *, identities: Identities | None = None
) -> FtpCredentials:
    """One subsidiary's RTS FTP login, in memory, the password straight into a Secret.

    The one decrypter apply, verify and the benchmarks share, so a login verify accepts is a
    login apply sends.
    """
    values = decrypt_subsidiary_values(wanted, [USERNAME_PATH, PASSWORD_PATH],
                                       identities=identities)
    return FtpCredentials(
        username=_text(values.get(USERNAME_PATH), "username", wanted),
        password=Secret(_text(values.get(PASSWORD_PATH), "password", wanted)),
    )


def _text(value: object, name: str, wanted: DesiredSubsidiary) -> str:
    """SOPS keeps YAML types: a password written as a bare number decrypts as an int."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise SopsError(f"{wanted.source}: factoring.ftp.{name} did not decrypt to text; set it "
                    f"again with `rtssync secrets set {wanted.key} --username U --password-stdin`")
