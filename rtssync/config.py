"""rtssync.yaml: which TMS, the safety limits and the policy (DESIGN §2.3).

The dataclasses here are the typed settings every other module receives; ``load_settings`` turns
the YAML file into them (with file:line errors) and lives here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


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
