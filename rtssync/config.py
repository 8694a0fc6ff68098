"""rtssync.yaml: which TMS, the safety limits and the policy (DESIGN §2.3).

The dataclasses here are the typed settings every other module receives; ``load_settings`` turns
the YAML file into them (with file:line errors) and lives here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from rtssync.errors import ConfigError, Problem
from rtssync.load import LoadedDocument, load_yaml_file, relative_to_root
from rtssync.schema import SETTINGS_SCHEMA, schema_problems


class TmsKind(StrEnum):
    LOCAL = "local"
    HTTP = "http"
    ALVYS = "alvys"


@dataclass(frozen=True, slots=True)
class TmsSettings:
    kind: TmsKind = TmsKind.LOCAL
    path: Path = Path(".rtssync/tms.sqlite")
    """local only; relative paths are relative to the config repository root."""
    url: str | None = None
    """http / alvys. Client id and secret come from RTSSYNC_TMS_CLIENT_ID / _SECRET."""
    options: dict[str, str] = field(default_factory=dict)
    """Backend-specific extras (e.g. alvys endpoint paths Alvys does not document)."""


@dataclass(frozen=True, slots=True)
class SafetySettings:
    max_deletes: int = 1
    max_update_fraction: float = 0.5


@dataclass(frozen=True, slots=True)
class PolicySettings:
    allowed_hosts: tuple[str, ...] = ("*.rtsfinancial.com",)


@dataclass(frozen=True, slots=True)
class Settings:
    root: Path
    """The config repository root (where rtssync.yaml is)."""
    source: Path
    """The rtssync.yaml that was read."""
    config_dir: Path = Path("config/subsidiaries")
    tms: TmsSettings = field(default_factory=TmsSettings)
    safety: SafetySettings = field(default_factory=SafetySettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    prune: bool = False

    @property
    def subsidiaries_dir(self) -> Path:
        return self.root / self.config_dir


def load_settings(root: Path, config_file: Path) -> Settings:
    """Read ``config_file`` (rtssync.yaml) into Settings; every problem at once as ConfigError."""
    settings, problems = check_settings(root, config_file)
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def check_settings(root: Path, config_file: Path) -> tuple[Settings | None, list[Problem]]:
    """Settings and the problems found on the way (``validate`` reports them with the rest).

    Settings is None when the file is missing or broken; an empty file means all defaults.
    """
    shown = relative_to_root(root, config_file)
    if not config_file.is_file():
        return None, [Problem(None, "not found: run `rtssync init` to create one, or point "
                                    "at it with -C DIR or --config FILE", path_hint=str(shown))]
    doc = load_yaml_file(config_file, shown)
    if doc.data is None and doc.ok:
        return Settings(root=root, source=config_file), []
    problems = list(doc.problems)
    if doc.data is not None:
        problems.extend(schema_problems(doc, SETTINGS_SCHEMA))
    if isinstance(doc.data, Mapping) and isinstance(doc.data.get("config_dir"), str):
        problems.extend(_config_dir_problems(doc))
    if problems or not isinstance(doc.data, Mapping):
        return None, sorted(problems, key=lambda p: (p.location.line, p.location.column)
                            if p.location else (0, 0))
    return _settings_from(root, config_file, doc.data), []


def _config_dir_problems(doc: LoadedDocument) -> list[Problem]:
    """config_dir must stay inside the repository: rtssync only reads files it can show in a PR."""
    assert isinstance(doc.data, Mapping)
    config_dir = doc.data.get("config_dir")
    if config_dir is None:
        return []
    posix = PurePosixPath(config_dir)
    if posix.is_absolute() or ".." in posix.parts:
        return [Problem(doc.location_of(("config_dir",)),
                        "config_dir: must be a folder inside the repository, written relative "
                        "to it (e.g. config/subsidiaries)")]
    return []


def _settings_from(root: Path, source: Path, data: Mapping[str, Any]) -> Settings:
    """Typed settings from schema-valid data; absent sections keep their defaults."""
    tms = data.get("tms", {})
    safety = data.get("safety", {})
    policy = data.get("policy", {})
    defaults = Settings(root=root, source=source)
    return Settings(
        root=root,
        source=source,
        config_dir=Path(data.get("config_dir", defaults.config_dir)),
        tms=TmsSettings(
            kind=TmsKind(tms.get("kind", defaults.tms.kind)),
            path=Path(tms.get("path", defaults.tms.path)),
            url=tms.get("url"),
            options=dict(tms.get("options", {})),
        ),
        safety=SafetySettings(
            max_deletes=int(safety.get("max_deletes", defaults.safety.max_deletes)),
            max_update_fraction=float(
                safety.get("max_update_fraction", defaults.safety.max_update_fraction)),
        ),
        policy=PolicySettings(
            allowed_hosts=tuple(policy.get("allowed_hosts", defaults.policy.allowed_hosts)),
        ),
        prune=bool(data.get("prune", defaults.prune)),
    )
