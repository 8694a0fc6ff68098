"""Creation rules are found for a file exactly the way the sops binary finds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtssync.errors import ConfigError, SopsError
from rtssync.sops import find_creation_rule

AGE_A = "age1rhwqnxumrvxcnt0se6p50twu8cly3h03d0slzv987u5h20ftkg6qrv4y6n"
AGE_B = "age1qwwzsz6z2mmu6hpmjt2he7nepmnhutmhehvkva7l5zy5xzf08d5s5n4d6n"


def write_config(root: Path, text: str) -> None:
    (root / ".sops.yaml").write_text(text, encoding="utf-8")


def test_first_matching_rule_wins_relative_to_the_config_dir(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        f"""creation_rules:
  - path_regex: ^config/subsidiaries/.*\\.yaml$
    age: {AGE_A}, {AGE_B}
    encrypted_regex: ^(username|password)$
    mac_only_encrypted: true
  - path_regex: \\.yaml$
    age: [{AGE_B}]
""",
    )
    rule = find_creation_rule(tmp_path, tmp_path / "config/subsidiaries/alpha.yaml")
    assert rule.index == 0
    assert rule.line == 2
    assert rule.age_recipients == (AGE_A, AGE_B)
    assert rule.encrypted_regex == "^(username|password)$"
    assert rule.mac_only_encrypted is True

    other = find_creation_rule(tmp_path, tmp_path / "elsewhere/x.yaml")
    assert other.index == 1
    assert other.age_recipients == (AGE_B,)
    assert other.mac_only_encrypted is False


def test_rule_without_path_regex_matches_everything(tmp_path: Path) -> None:
    write_config(tmp_path, f"creation_rules:\n  - age: {AGE_A}\n")
    assert find_creation_rule(tmp_path, tmp_path / "any/where.yaml").path_regex is None


def test_path_regex_is_a_search_not_a_full_match(tmp_path: Path) -> None:
    write_config(tmp_path, f"creation_rules:\n  - path_regex: subsidiaries\n    age: {AGE_A}\n")
    rule = find_creation_rule(tmp_path, tmp_path / "config/subsidiaries/a.yaml")
    assert rule.index == 0


def test_key_groups_and_threshold(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        f"""creation_rules:
  - shamir_threshold: 2
    key_groups:
      - age: [{AGE_A}]
      - age: [{AGE_B}]
        pgp: [ABCDEF]
""",
    )
    rule = find_creation_rule(tmp_path, tmp_path / "a.yaml")
    assert rule.shamir_threshold == 2
    assert [g.age for g in rule.key_groups] == [(AGE_A,), (AGE_B,)]
    assert rule.key_groups[1].other == ("pgp",)


def test_no_matching_rule_names_the_config(tmp_path: Path) -> None:
    write_config(tmp_path, f"creation_rules:\n  - path_regex: ^nope/\n    age: {AGE_A}\n")
    with pytest.raises(SopsError, match=r"\.sops\.yaml: no creation rule matches 'a\.yaml'"):
        find_creation_rule(tmp_path, tmp_path / "a.yaml")


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SopsError, match=r"\.sops\.yaml: not found"):
        find_creation_rule(tmp_path, tmp_path / "a.yaml")


def test_malformed_config_points_at_the_line(tmp_path: Path) -> None:
    write_config(tmp_path, "creation_rules:\n  - path_regex: '(unclosed'\n    age: x\n")
    with pytest.raises(ConfigError, match=r"\.sops\.yaml:2:1: invalid regular expression"):
        find_creation_rule(tmp_path, tmp_path / "a.yaml")


def test_two_selectors_in_one_rule_are_refused_like_sops(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "creation_rules:\n  - age: x\n    encrypted_regex: a\n    unencrypted_regex: b\n",
    )
    with pytest.raises(ConfigError, match="only one of"):
        find_creation_rule(tmp_path, tmp_path / "a.yaml")


def test_an_edited_sops_yaml_is_read_again(tmp_path: Path) -> None:
    """Rules are parsed once per distinct text (speed), so an edit must still be seen."""
    write_config(tmp_path, f"creation_rules:\n  - age: {AGE_A}\n")
    assert find_creation_rule(tmp_path, tmp_path / "a.yaml").age_recipients == (AGE_A,)
    write_config(tmp_path, f"creation_rules:\n  - age: {AGE_B}\n    mac_only_encrypted: true\n")
    rule = find_creation_rule(tmp_path, tmp_path / "a.yaml")
    assert rule.age_recipients == (AGE_B,)
    assert rule.mac_only_encrypted is True
