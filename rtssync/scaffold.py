"""``rtssync init``'s library: a config repository that validates and plans out of the box.

Everything written comes from ``rtssync/templates`` (the workflows there are also the project's
own, see :func:`project_workflow_text`), plus a ``.sops.yaml`` naming the user's age recipient
and an example subsidiary whose placeholder credentials are encrypted to it.

The age key: a new X25519 identity is appended to the keys file sops reads by default
(``$XDG_CONFIG_HOME/sops/age/keys.txt`` or ``~/.config/sops/age/keys.txt``), never written into
the repository. A new key per config repository, rather than reusing one already in the file,
because its private half becomes the CI secret ``SOPS_AGE_KEY``: a leaked CI secret then exposes
this repository only. sops tries every identity in the file, so keys coexist. Someone who wants
an existing key (a team key) passes its public key and no key is generated.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import pyrage

from rtssync import __version__
from rtssync.errors import RtssyncError
from rtssync.sops.edit import set_encrypted_values
from rtssync.sops.keys import user_key_file
from rtssync.sops.rules import find_creation_rule

WORKFLOW_NAMES: tuple[str, ...] = ("rtssync-plan.yml", "rtssync-apply.yml", "rtssync-drift.yml")
VERSION_PLACEHOLDER = "__RTSSYNC_VERSION__"
RECIPIENT_PLACEHOLDER = "__AGE_RECIPIENT__"
TEMPLATE_INSTALL_STEP = f'run: python -m pip install "rtssync=={VERSION_PLACEHOLDER}"'
PROJECT_INSTALL_STEP = "run: python -m pip install -e ."
"""The project's own workflows test the checked-out rtssync instead of a released one."""

EXAMPLE_KEY = "example-freight"
EXAMPLE_USERNAME = "example-replace-me"
SUBSIDIARIES_DIR = "config/subsidiaries"

# Template file -> where init writes it. Dotfiles are stored without their dot so that package
# data globs (which skip hidden files) ship them.
_PLAIN_FILES: tuple[tuple[str, str], ...] = (
    ("rtssync.yaml", "rtssync.yaml"),
    ("gitignore", ".gitignore"),
    ("pre-commit-config.yaml", ".pre-commit-config.yaml"),
    ("README.md", "README.md"),
    ("sops.yaml", ".sops.yaml"),
    *((f"workflows/{name}", f".github/workflows/{name}") for name in WORKFLOW_NAMES),
)
_EXAMPLE_TEMPLATE = "example-subsidiary.yaml"


@dataclass(frozen=True, slots=True)
class AgeRecipient:
    """The public key the repository encrypts to, and where its new private key went (if any)."""

    public_key: str
    key_file: Path | None
    """The keys file the new identity was appended to; None when an existing key was given."""


@dataclass(frozen=True, slots=True)
class InitResult:
    root: Path
    recipient: AgeRecipient
    written: tuple[str, ...]
    """Paths written, relative to the root, in the order written."""


def templates() -> Traversable:
    """The packaged templates folder (works from a wheel as well as a checkout)."""
    return resources.files("rtssync") / "templates"


def template_text(name: str) -> str:
    return (templates() / name).read_text(encoding="utf-8")


def project_workflow_text(name: str) -> str:
    """The project's own copy of a workflow: the same file, installing the checkout instead.

    The templates are the one source of truth; ``tests/test_workflows.py`` checks that
    ``.github/workflows`` holds exactly these texts (and can regenerate them).
    """
    text = template_text(f"workflows/{name}")
    if TEMPLATE_INSTALL_STEP not in text:
        raise RtssyncError(f"workflow template {name} lost its install step")
    return text.replace(TEMPLATE_INSTALL_STEP, PROJECT_INSTALL_STEP)


def schema_files() -> list[Traversable]:
    """The JSON Schemas to copy into a config repository, for editors."""
    folder = resources.files("rtssync") / "schemas"
    return sorted((f for f in folder.iterdir() if f.name.endswith(".json")),
                  key=lambda f: f.name)


def planned_paths() -> list[str]:
    """Every path init writes, relative to the new repository's root."""
    paths = [target for _, target in _PLAIN_FILES]
    paths.append(f"{SUBSIDIARIES_DIR}/{EXAMPLE_KEY}.yaml")
    paths.extend(f"schemas/{schema.name}" for schema in schema_files())
    return paths


def existing_paths(root: Path) -> list[str]:
    """The paths init would write that already exist (init never overwrites anything)."""
    return [path for path in planned_paths() if (root / path).exists()]


def init_repository(
    root: Path,
    *,
    recipient: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> InitResult:
    """Scaffold a config repository in ``root``; refuse, changing nothing, if any file exists.

    ``recipient`` is an existing age public key to encrypt to; without it a new key is made
    and appended to the user's sops keys file.
    """
    env = os.environ if environ is None else environ
    if root.exists() and not root.is_dir():
        raise RtssyncError(f"{root} exists and is not a directory")
    clashes = existing_paths(root)
    if clashes:
        raise RtssyncError(
            "refusing to overwrite existing files (nothing was changed): "
            + ", ".join(clashes)
            + ". Move them away, or run init in an empty directory."
        )
    if recipient is not None:
        age = AgeRecipient(public_key=_checked_recipient(recipient), key_file=None)
    else:
        age = create_user_age_key(env, comment=f"rtssync init {root}")
    root.mkdir(parents=True, exist_ok=True)
    written = _write_files(root, age.public_key)
    return InitResult(root=root, recipient=age, written=tuple(written))


def _checked_recipient(recipient: str) -> str:
    try:
        pyrage.x25519.Recipient.from_str(recipient)
    except Exception:  # pyrage raises its own, undocumented error types
        raise RtssyncError(
            "--recipient must be an age public key (age1...), as `age-keygen -y` prints it"
        ) from None
    return recipient


def create_user_age_key(env: Mapping[str, str], *, comment: str) -> AgeRecipient:
    """Append a new identity to the keys file sops reads by default (0600, folder 0700)."""
    key_file = user_key_file(env)
    if key_file is None:
        raise RtssyncError(
            "cannot find where sops keeps age keys: set HOME or XDG_CONFIG_HOME, "
            "or pass --recipient with an existing age public key"
        )
    identity = pyrage.x25519.Identity.generate()
    public_key = str(identity.to_public())
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = (f"# {_one_line(comment)}\n# created: {created}\n# public key: {public_key}\n"
             f"{identity}\n")
    _append_private(key_file, entry)
    return AgeRecipient(public_key=public_key, key_file=key_file)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _append_private(path: Path, text: str) -> None:
    """Append to a file only its owner can read, creating it (and a 0700 folder) if needed."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as error:
        raise RtssyncError(f"cannot write the age key to {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        existing_size = os.fstat(handle.fileno()).st_size
        handle.write(("\n" if existing_size else "") + text)


def render_files(public_key: str) -> list[tuple[str, str]]:
    """(path, text) of every file init writes, all rendered before anything is written."""
    files: list[tuple[str, str]] = []
    for source, target in _PLAIN_FILES:
        text = (template_text(source)
                .replace(VERSION_PLACEHOLDER, __version__)
                .replace(RECIPIENT_PLACEHOLDER, public_key))
        files.append((target, text))
    files.extend((f"schemas/{schema.name}", schema.read_text(encoding="utf-8"))
                 for schema in schema_files())
    sops_config = dict(files)[".sops.yaml"]
    example = f"{SUBSIDIARIES_DIR}/{EXAMPLE_KEY}.yaml"
    files.append((example, example_subsidiary_text(sops_config, example)))
    return files


def _write_files(root: Path, public_key: str) -> list[str]:
    files = render_files(public_key)
    for relative, text in files:
        _write_new(root / relative, text)
    return [relative for relative, _ in files]


def example_subsidiary_text(sops_config: str, relative: str) -> str:
    """The example subsidiary, its placeholder login encrypted by the repository's own rule.

    A random password, so the example is never a known credential. Encrypting needs only the
    public recipient (a fresh data key), which is why this works with ``--recipient`` too.
    The rule is read from a staging copy of ``.sops.yaml`` (public data only) so that nothing
    is written into the repository until every file has rendered.
    """
    with tempfile.TemporaryDirectory(prefix="rtssync-init-") as staging:
        staging_root = Path(staging)
        (staging_root / ".sops.yaml").write_text(sops_config, encoding="utf-8")
        path = staging_root / relative
        rule = find_creation_rule(staging_root, path)
        updates: dict[tuple[str, ...], str] = {
            ("factoring", "ftp", "username"): EXAMPLE_USERNAME,
            ("factoring", "ftp", "password"): secrets.token_urlsafe(24),
        }
        return set_encrypted_values(path, template_text(_EXAMPLE_TEMPLATE), rule, updates)


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise RtssyncError(f"{path} appeared while init was running; nothing overwritten") from None


def describe_result(result: InitResult) -> Sequence[str]:
    """What init tells the user: what it wrote, where the key is, and what to do next."""
    lines = [f"created {path}" for path in result.written]
    recipient = result.recipient
    if recipient.key_file is not None:
        lines.append(f"new age key {recipient.public_key} added to {recipient.key_file}")
    else:
        lines.append(f"encrypting to the existing age key {recipient.public_key}")
    lines += [
        "",
        "next steps (README.md has the details):",
        f"  cd {result.root}",
        "  git init -b main && git add -A && git commit -m 'rtssync init'",
        "  rtssync validate && rtssync plan",
        f"  replace {SUBSIDIARIES_DIR}/{EXAMPLE_KEY}.yaml with your subsidiaries, then:",
        "  rtssync secrets set <key> --username <login from RTS> --password-stdin",
    ]
    return lines
