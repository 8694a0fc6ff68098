"""`.sops.yaml` creation rules, found for a file the way the ``sops`` binary finds them.

sops compares each rule's ``path_regex`` (Go regexp, unanchored search) against the file's path
relative to the directory holding ``.sops.yaml``; the first rule that matches wins and a rule
without ``path_regex`` matches everything. ``validate`` reads the rule for the subsidiary files
from here, so this module's API (``CreationRule``, ``find_creation_rule``) is kept stable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rtssync.errors import ConfigError, Problem, SopsError
from rtssync.load import syntax_problem
from rtssync.model import SourceLocation

SOPS_CONFIG_NAME = ".sops.yaml"

# Key types sops knows besides age. rtssync keeps their entries only to say which files need the
# sops binary; it never talks to PGP or a cloud KMS itself.
OTHER_KEY_TYPES: tuple[str, ...] = (
    "pgp",
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault",
    "hc_vault_transit_uri",
    "hckms",
)


@dataclass(frozen=True, slots=True)
class RuleKeyGroup:
    """One key group: every key in it can recover the group's share of the data key."""

    age: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    """Names of non-age key types configured in the group (e.g. ``pgp``)."""


@dataclass(frozen=True, slots=True)
class CreationRule:
    """The creation rule sops would apply to one file."""

    source: Path
    """The ``.sops.yaml`` it came from."""
    index: int
    """0-based position in ``creation_rules``."""
    line: int
    """1-based line of the rule in ``source`` (for messages)."""
    path_regex: str | None
    key_groups: tuple[RuleKeyGroup, ...]
    shamir_threshold: int = 0
    encrypted_regex: str | None = None
    unencrypted_regex: str | None = None
    encrypted_suffix: str | None = None
    unencrypted_suffix: str | None = None
    encrypted_comment_regex: str | None = None
    unencrypted_comment_regex: str | None = None
    mac_only_encrypted: bool = False

    @property
    def age_recipients(self) -> tuple[str, ...]:
        """Every age recipient of the rule, across key groups, in order."""
        return tuple(r for group in self.key_groups for r in group.age)

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(self.source, self.line, 1)


def find_creation_rule(
    repo_root: Path, file: Path, rules: Sequence[CreationRule] | None = None
) -> CreationRule:
    """The rule in ``repo_root/.sops.yaml`` that sops would use for ``file``.

    ``rules``: that file's rules, already loaded (by a caller asking for many files, which
    then reads ``.sops.yaml`` once, not once per file). Raises :class:`SopsError` when there is
    no ``.sops.yaml`` or no rule matches, and :class:`ConfigError` when the ``.sops.yaml``
    itself is malformed.
    """
    config = repo_root / SOPS_CONFIG_NAME
    if rules is None:
        rules = load_creation_rules(config)
    relative = _relative_to_config(config, file)
    for rule in rules:
        if rule.path_regex is None or _go_regex(rule, rule.path_regex).search(relative):
            return rule
    raise SopsError(
        f"{config}: no creation rule matches {relative!r}; add a rule whose path_regex "
        "matches it (or a rule without path_regex)"
    )


def load_creation_rules(config: Path) -> tuple[CreationRule, ...]:
    """Every creation rule of one ``.sops.yaml``, in file order."""
    try:
        text = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SopsError(
            f"{config}: not found; sops needs it to know the recipients and which values "
            "to encrypt (rtssync init writes one)"
        ) from None
    except OSError as error:
        raise SopsError(f"{config}: cannot read ({error.strerror})") from None
    return _rules_from_text(config, text)


@functools.lru_cache(maxsize=32)
def _rules_from_text(config: Path, text: str) -> tuple[CreationRule, ...]:
    """Parsed once per distinct text: validate asks for every file's rule, and re-parsing the
    same ``.sops.yaml`` 1,000 times (pure-Python YAML, twice) cost more than the files did."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError([_yaml_problem(config, text, error)]) from None
    return _parse_rules(config, data, node)


def _parse_rules(config: Path, data: object, node: yaml.Node | None) -> tuple[CreationRule, ...]:
    if not isinstance(data, Mapping) or not isinstance(data.get("creation_rules"), list):
        raise ConfigError([Problem(None, "needs a list `creation_rules`", str(config))])
    lines = _rule_lines(node)
    rules = []
    for index, raw in enumerate(data["creation_rules"]):
        line = lines[index] if index < len(lines) else 1
        rules.append(_parse_rule(config, index, line, raw))
    return tuple(rules)


def _rule_lines(node: yaml.Node | None) -> list[int]:
    """1-based line of each creation rule, found on the composed node tree."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "creation_rules" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _parse_rule(config: Path, index: int, line: int, raw: object) -> CreationRule:
    where = SourceLocation(config, line, 1)
    if not isinstance(raw, Mapping):
        raise ConfigError([Problem(where, "a creation rule must be a mapping")])
    try:
        groups = _key_groups(raw)
        rule = CreationRule(
            source=config,
            index=index,
            line=line,
            path_regex=_optional_str(raw, "path_regex"),
            key_groups=groups,
            shamir_threshold=int(raw.get("shamir_threshold") or 0),
            encrypted_regex=_optional_str(raw, "encrypted_regex"),
            unencrypted_regex=_optional_str(raw, "unencrypted_regex"),
            encrypted_suffix=_optional_str(raw, "encrypted_suffix"),
            unencrypted_suffix=_optional_str(raw, "unencrypted_suffix"),
            encrypted_comment_regex=_optional_str(raw, "encrypted_comment_regex"),
            unencrypted_comment_regex=_optional_str(raw, "unencrypted_comment_regex"),
            mac_only_encrypted=raw.get("mac_only_encrypted") is True,
        )
    except (TypeError, ValueError) as error:
        raise ConfigError([Problem(where, f"creation rule {index + 1}: {error}")]) from None
    _check_rule(rule, where)
    return rule


def _check_rule(rule: CreationRule, where: SourceLocation) -> None:
    selectors = [
        rule.encrypted_regex,
        rule.unencrypted_regex,
        rule.encrypted_suffix,
        rule.unencrypted_suffix,
        rule.encrypted_comment_regex,
        rule.unencrypted_comment_regex,
    ]
    if sum(s is not None for s in selectors) > 1:
        raise ConfigError(
            [
                Problem(
                    where,
                    "sops allows only one of encrypted_regex, unencrypted_regex, "
                    "encrypted_suffix, unencrypted_suffix and the comment regexes per rule",
                )
            ]
        )
    for pattern in (rule.path_regex, rule.encrypted_regex, rule.unencrypted_regex):
        if pattern is not None:
            _go_regex(rule, pattern)


def _key_groups(raw: Mapping[str, Any]) -> tuple[RuleKeyGroup, ...]:
    """``key_groups`` if given, else one group from the rule's top-level key fields."""
    groups = raw.get("key_groups")
    if groups is None:
        return (_key_group(raw),)
    if not isinstance(groups, list):
        raise TypeError("key_groups must be a list")
    return tuple(_key_group(group) for group in groups)


def _key_group(raw: object) -> RuleKeyGroup:
    if not isinstance(raw, Mapping):
        raise TypeError("each key group must be a mapping")
    age = _key_list(raw.get("age"), "age")
    for merged in raw.get("merge") or ():
        age += _key_group(merged).age
    other = tuple(name for name in OTHER_KEY_TYPES if raw.get(name))
    return RuleKeyGroup(age=age, other=other)


def _key_list(value: object, name: str) -> tuple[str, ...]:
    """sops accepts a comma-separated string or a list of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value)
    raise TypeError(f"{name} must be a string or a list of strings")


def _optional_str(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    return value


def _go_regex(rule: CreationRule, pattern: str) -> re.Pattern[str]:
    """Compile a Go (RE2) pattern with Python's re; the syntax sops files use is shared."""
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ConfigError(
            [Problem(rule.location, f"invalid regular expression {pattern!r}: {error}")]
        ) from None


def _relative_to_config(config: Path, file: Path) -> str:
    """The path sops matches ``path_regex`` against: relative to the config's directory."""
    base = _resolved_folder(config.parent)
    target = file if file.is_absolute() else Path.cwd() / file
    target = Path(*target.parts)  # normalise without resolving symlinks in the file itself
    if target.name not in ("", ".", "..") and not target.is_symlink():
        resolved = _resolved_folder(target.parent) / target.name  # what resolve() gives
    else:
        resolved = target.resolve()
    try:
        return resolved.relative_to(base).as_posix()
    except ValueError:
        return target.as_posix()


@functools.lru_cache(maxsize=64)
def _resolved_folder(folder: Path) -> Path:
    """Cached: validate asks for the rule of every file, and resolving a deep path costs an
    lstat per component; files in one folder share their folder's resolution."""
    return folder.resolve()


def _yaml_problem(config: Path, text: str, error: yaml.YAMLError) -> Problem:
    if isinstance(error, yaml.MarkedYAMLError):
        return syntax_problem(error, text, config)
    # A ReaderError (a control character): its str() spans lines, its reason does not.
    reason = getattr(error, "reason", None) or type(error).__name__
    return Problem(None, f"invalid YAML: {reason}; save it as plain UTF-8 text", str(config))
