"""rtssync.yaml -> Settings: defaults where silent, every problem with file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtssync.config import Settings, TmsKind, check_settings, load_settings
from rtssync.errors import ConfigError


def write_settings(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rtssync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_design_example_reads_as_written(tmp_path: Path) -> None:
    source = write_settings(tmp_path, (
        "config_dir: config/subsidiaries\n"
        "tms:\n  kind: local\n  path: .rtssync/tms.sqlite\n"
        "safety:\n  max_deletes: 1\n  max_update_fraction: 0.5\n"
        "policy:\n  allowed_hosts: [\"*.rtsfinancial.com\"]\n"
        "prune: false\n"
    ))

    settings = load_settings(tmp_path, source)

    assert settings == Settings(root=tmp_path, source=source)
    assert settings.subsidiaries_dir == tmp_path / "config" / "subsidiaries"


def test_every_field_can_be_set(tmp_path: Path) -> None:
    source = write_settings(tmp_path, (
        "config_dir: subs\n"
        "tms:\n  kind: http\n  url: https://tms.example.com/api\n  options:\n    audience: x\n"
        "safety:\n  max_deletes: 0\n  max_update_fraction: 1\n"
        "policy:\n  allowed_hosts: ['ftp.example.com', '*.rtsfinancial.com']\n"
        "prune: true\n"
    ))

    settings = load_settings(tmp_path, source)

    assert settings.config_dir == Path("subs")
    assert settings.tms.kind is TmsKind.HTTP
    assert settings.tms.url == "https://tms.example.com/api"
    assert settings.tms.options == {"audience": "x"}
    assert (settings.safety.max_deletes, settings.safety.max_update_fraction) == (0, 1.0)
    assert settings.policy.allowed_hosts == ("ftp.example.com", "*.rtsfinancial.com")
    assert settings.prune is True


def test_an_empty_file_means_all_defaults(tmp_path: Path) -> None:
    source = write_settings(tmp_path, "# nothing to change\n")

    assert load_settings(tmp_path, source) == Settings(root=tmp_path, source=source)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "tms:\n  kind: http\n",
            ["rtssync.yaml:1:1: missing field 'url' in tms (the http backend needs the TMS API "
             "base URL, https://...); add it"],
            id="http-without-url",
        ),
        pytest.param(
            "config_dir: ../elsewhere\n",
            ["rtssync.yaml:1:13: config_dir: must be a folder inside the repository, written "
             "relative to it (e.g. config/subsidiaries)"],
            id="config-dir-outside",
        ),
        pytest.param(
            "safety:\n  max_update_fraction: 1.5\n  max_deletes: yes\n",
            ["rtssync.yaml:2:24: safety.max_update_fraction: 1.5 is above the maximum 1 (the "
             "largest share of managed subsidiaries one apply may update: a number from 0 to 1)",
             "rtssync.yaml:3:16: safety.max_deletes: yes is read as the boolean true (YAML 1.1); "
             'write true, or quote it if you mean the text: "yes"'],
            id="out-of-range-and-yes",
        ),
        pytest.param(
            "policy:\n  allowed_hosts: '*.rtsfinancial.com'\n",
            ['rtssync.yaml:2:18: policy.allowed_hosts: must be a list, not text (host name globs '
             'credentials may go to, e.g. "*.rtsfinancial.com")'],
            id="hosts-not-a-list",
        ),
        pytest.param(
            "prune: 1\ntms:\n  kind: local\n  url: https://x\n  port: 1\n",
            ["rtssync.yaml:1:8: prune: must be true or false, not a number (true lets a "
             "removed subsidiary file remove its RTS FTP setup from the TMS; default false)",
             "rtssync.yaml:5:3: unknown field 'port' in tms: remove it (allowed: "
             "kind, options, path, url)"],
            id="wrong-type-and-unknown",
        ),
        pytest.param(
            "tms: [\n",
            ["rtssync.yaml:2:1: invalid YAML: did not find expected node content (while "
             "parsing a flow node); check the indentation and quoting here"],
            id="malformed",
        ),
    ],
)
def test_bad_settings_are_all_reported_at_their_line(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    source = write_settings(tmp_path, text)

    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, source)

    assert [str(p) for p in raised.value.problems] == expected


def test_a_missing_file_says_how_to_get_one(tmp_path: Path) -> None:
    settings, problems = check_settings(tmp_path, tmp_path / "rtssync.yaml")

    assert settings is None
    assert [str(p) for p in problems] == [
        "rtssync.yaml: not found: run `rtssync init` to create one, or point at it with -C DIR "
        "or --config FILE"
    ]
