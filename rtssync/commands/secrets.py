"""``rtssync secrets set KEY --username U --password-stdin``: encrypted credentials into a file.

The password comes only from stdin (never argv, where ``ps`` and shell history would see it),
is encrypted in memory, and the file is replaced atomically by a temp file that only ever holds
ciphertext.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
from pathlib import Path

import click

from rtssync.config import load_settings
from rtssync.decrypt import PASSWORD_PATH, USERNAME_PATH
from rtssync.errors import RtssyncError
from rtssync.model import Secret
from rtssync.sops import find_creation_rule
from rtssync.sops.edit import set_encrypted_values

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")


@click.group("secrets")
def secrets_group() -> None:
    """Write encrypted credentials into subsidiary files."""


@secrets_group.command("set")
@click.argument("key")
@click.option("--username", required=True, help="The subsidiary's RTS FTP username.")
@click.option(
    "--password-stdin",
    "password_stdin",
    is_flag=True,
    help="Read the RTS FTP password from standard input (the only way to pass it).",
)
@click.pass_obj
def set_command(obj: object, key: str, username: str, password_stdin: bool) -> None:
    """Encrypt the RTS FTP username and password into KEY's subsidiary file.

    \b
      printf '%s' "$RTS_PW" | rtssync secrets set alpha-freight \\
          --username alpha-ftp --password-stdin

    Follows the .sops.yaml creation rule. Only the public recipients are needed, unless the
    file holds other encrypted values (then the age key to decrypt it is needed too).
    """
    if not password_stdin:
        raise click.UsageError("pass the password on standard input with --password-stdin")
    root, config_file = _context(obj)
    file = _subsidiary_file(root, config_file, key)
    password = _read_password(file)
    if not username.strip():
        raise RtssyncError(f"{file}: the username is empty")
    write_credentials(root, file, username, password)
    click.echo(f"{_display(root, file)}: encrypted FTP username and password written")


def write_credentials(root: Path, file: Path, username: str, password: Secret) -> None:
    """Encrypt the credentials into ``file`` per its creation rule, replacing it atomically."""
    try:
        text = file.read_bytes().decode("utf-8")  # bytes: keep \r\n line endings as they are
    except OSError as error:
        raise RtssyncError(f"{file}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise RtssyncError(f"{file}: not UTF-8 text") from None
    rule = find_creation_rule(root, file)
    updates: dict[tuple[str, ...], str] = {
        USERNAME_PATH: username,
        PASSWORD_PATH: password.reveal(),
    }
    new_text = set_encrypted_values(file, text, rule, updates)
    atomic_write(file, new_text)


def atomic_write(file: Path, text: str) -> None:
    """Write via a temp file in the same directory and ``os.replace``, keeping permissions."""
    mode = stat.S_IMODE(file.stat().st_mode)
    handle, temp_name = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, file)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _read_password(file: Path) -> Secret:
    """All of stdin minus one trailing newline; at a terminal, one line typed without echo."""
    if sys.stdin.isatty():
        typed = click.prompt("RTS FTP password", hide_input=True, err=True, default="")
        return _non_empty(file, str(typed))
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RtssyncError(f"{file}: the password on stdin is not UTF-8") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return _non_empty(file, text)


def _non_empty(file: Path, text: str) -> Secret:
    if not text:
        raise RtssyncError(f"{file}: the password on stdin is empty")
    return Secret(text)


def _context(obj: object) -> tuple[Path, Path]:
    root = getattr(obj, "root", None)
    config_file = getattr(obj, "config_file", None)
    if not isinstance(root, Path) or not isinstance(config_file, Path):
        root = Path.cwd()
        config_file = root / "rtssync.yaml"
    return root, config_file


def _subsidiary_file(root: Path, config_file: Path, key: str) -> Path:
    if not _KEY.match(key):
        raise RtssyncError(f"{key!r} is not a subsidiary key (the file stem, e.g. alpha-freight)")
    file = load_settings(root, config_file).subsidiaries_dir / f"{key}.yaml"
    if not file.is_file():
        raise RtssyncError(f"{file}: no such subsidiary file (unknown key {key!r})")
    return file


def _display(root: Path, file: Path) -> str:
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return str(file)


command = secrets_group
