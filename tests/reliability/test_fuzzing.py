"""Fuzzing: whatever is in a subsidiary file or rtssync.yaml, validation never raises, never
hangs, and reports every problem as ``path:line:col: message`` (the CLI then exits 1).

Generated with hypothesis: a real sops-encrypted subsidiary file with values replaced (wrong
types, odd unicode, huge numbers and strings, deep nesting), keys removed or added, then the text
broken (tabs, duplicate keys, truncation, binary, YAML alias bombs); arbitrary bytes; and
rtssync.yaml built the same way. The library entry ``rtssync validate`` uses runs in-process, one
repository rewritten per example; a handful of the nastiest inputs also go through real processes.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtssync.cli import cli
from rtssync.validate import validate_repository
from tests.e2e.harness import RTSSYNC
from tests.reliability.conftest import Recorder
from tests.repo_factory import ConfigRepo, default_settings, make_config_repo, subsidiary

SUBSIDIARY_EXAMPLES = 1200
TEXT_EXAMPLES = 500
SETTINGS_EXAMPLES = 300
CLI_EXAMPLES = 60
MAX_SECONDS_PER_EXAMPLE = 5.0
FUZZ_FILE = "config/subsidiaries/fuzz.yaml"
LOCATED = re.compile(r"^(?P<path>[^\n]+?):(?P<line>\d+):(?P<col>\d+): \S")
WHOLE_FILE = re.compile(r"^[^\n]+: (folder not found|larger than \d+ MiB|cannot read file)[:;] ")
"""Problems with a whole file or folder are named by path alone, by design: a config_dir that
does not exist, a file over 1 MiB (refused unread), an unreadable file."""


def located(problem: str) -> bool:
    return bool(LOCATED.match(problem) or WHOLE_FILE.match(problem))

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


class Stats:
    def __init__(self) -> None:
        self.examples = 0
        self.rejected = 0
        self.slowest = 0.0


STATS: dict[str, Stats] = {}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    made = make_config_repo(tmp_path_factory.mktemp("fuzz"), [subsidiary(1)])
    made.path_of("sub-1").rename(made.root / FUZZ_FILE)
    return made


@pytest.fixture(scope="module")
def base_document(repo: ConfigRepo) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo.root / FUZZ_FILE).read_text())
    return loaded


# -- strategies --------------------------------------------------------------------------------

odd_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40) | st.sampled_from([
    "", " ", "\t", "\u202e", "\ufeff", "\u0000", "ﬁ", "İ", "ǅ", "𝔘𝔫𝔦", "\r\n", "a\u0301",
    "x" * 20_000, "９９９", "0x1F", "1e999", "~", "null", "yes", "<<", "&a", "*a", "!!binary",
])
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | odd_text | st.binary(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(odd_text, inner, max_size=4), max_leaves=12)


def deep(depth: int) -> Any:
    node: Any = "bottom"
    for _ in range(depth):
        node = {"n": node}
    return node


def _leaf_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        found: list[tuple[Any, ...]] = [path] if path else []
        for key, value in node.items():
            found += _leaf_paths(value, (*path, key))
        return found
    return [path]


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        document = document[part]
    document[path[-1]] = value


def _delete(document: Any, path: tuple[Any, ...]) -> None:
    for part in path[:-1]:
        document = document[part]
    del document[path[-1]]


@st.composite
def broken_documents(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(yaml.safe_dump(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = _leaf_paths(document) or [("name",)]
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add", "nest"]))
        if action == "replace":
            _set(document, path, draw(values))
        elif action == "delete":
            _delete(document, path)
        elif action == "add":
            _set(document, (*path[:-1], draw(odd_text)), draw(values))
        else:
            _set(document, path, deep(draw(st.integers(10, 400))))
    return document


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=10**6)


@st.composite
def broken_texts(draw: st.DrawFn, text: str) -> bytes:
    """Text-level damage to a YAML document: what an editor or a bad merge does."""
    lines = text.split("\n")
    action = draw(st.sampled_from(["tab", "duplicate", "truncate", "bytes", "bomb", "none",
                                   "anchor-loop", "flow-deep"]))
    at = draw(st.integers(0, max(0, len(lines) - 1)))
    if action == "tab":
        lines[at] = "\t" + lines[at]
    elif action == "duplicate":
        lines.insert(at, lines[at])
    elif action == "truncate":
        return "\n".join(lines).encode()[: draw(st.integers(0, len(text)))]
    elif action == "bytes":
        raw = "\n".join(lines).encode()
        cut = draw(st.integers(0, len(raw)))
        return raw[:cut] + draw(st.binary(min_size=1, max_size=16)) + raw[cut:]
    elif action == "bomb":
        lines.insert(0, BILLION_LAUGHS + "z: *i")
    elif action == "anchor-loop":
        lines.append("loop: &l [*l]")
    elif action == "flow-deep":
        lines.append("deep: " + "[" * draw(st.integers(50, 5000)))
    return "\n".join(lines).encode()


# -- the check ---------------------------------------------------------------------------------


def check_validation(repo: ConfigRepo, what: str) -> None:
    """Validate the repository as ``rtssync validate`` does; record and check the outcome."""
    stats = STATS.setdefault(what, Stats())
    started = time.perf_counter()
    result = validate_repository(repo.root, repo.settings_file)  # must not raise
    elapsed = time.perf_counter() - started
    stats.examples += 1
    stats.slowest = max(stats.slowest, elapsed)
    assert elapsed < MAX_SECONDS_PER_EXAMPLE, f"validation took {elapsed:.1f} s"
    problems = [str(p) for p in result.all_problems()]
    stats.rejected += bool(problems)
    for problem in problems:
        assert located(problem), f"no path:line:col: {problem[:300]!r}"
        assert "Traceback" not in problem


FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


def test_broken_subsidiary_documents(repo: ConfigRepo, base_document: dict[str, Any],
                                     scale: int, figures: Recorder) -> None:
    @settings(FUZZ, max_examples=SUBSIDIARY_EXAMPLES * scale)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        document = data.draw(broken_documents(base_document))
        text = data.draw(broken_texts(_dump(document)))
        (repo.root / FUZZ_FILE).write_bytes(text)
        check_validation(repo, "subsidiary")

    run()
    stats = STATS["subsidiary"]
    figures(examples=stats.examples, rejected=stats.rejected,
            slowest_s=round(stats.slowest, 3), tracebacks=0, unlocated_problems=0)


def test_arbitrary_bytes_as_a_subsidiary_file(repo: ConfigRepo, scale: int,
                                              figures: Recorder) -> None:
    @settings(FUZZ, max_examples=TEXT_EXAMPLES * scale)
    @given(raw=st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
    def run(raw: bytes) -> None:
        (repo.root / FUZZ_FILE).write_bytes(raw)
        check_validation(repo, "bytes")

    run()
    stats = STATS["bytes"]
    figures(examples=stats.examples, rejected=stats.rejected, slowest_s=round(stats.slowest, 3))


def test_broken_settings_files(repo: ConfigRepo, scale: int, figures: Recorder) -> None:
    base = default_settings()
    original = repo.settings_file.read_bytes()

    @settings(FUZZ, max_examples=SETTINGS_EXAMPLES * scale)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        document = data.draw(broken_documents(base))
        repo.settings_file.write_bytes(data.draw(broken_texts(_dump(document))))
        check_validation(repo, "settings")

    try:
        run()
    finally:
        repo.settings_file.write_bytes(original)
    stats = STATS["settings"]
    figures(examples=stats.examples, rejected=stats.rejected, slowest_s=round(stats.slowest, 3))


def test_broken_files_through_the_cli_exit_1_with_located_problems(
    repo: ConfigRepo, base_document: dict[str, Any], scale: int, figures: Recorder,
) -> None:
    original = (repo.root / FUZZ_FILE).read_bytes()
    exits: list[int] = []

    @settings(FUZZ, max_examples=CLI_EXAMPLES * scale)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        document = data.draw(broken_documents(base_document))
        (repo.root / FUZZ_FILE).write_bytes(data.draw(broken_texts(_dump(document))))
        result = CliRunner().invoke(cli, ["-C", str(repo.root), "validate"])
        exits.append(result.exit_code)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "internal error" not in result.output
        assert "Traceback" not in result.output
        if result.exit_code != 0:
            assert result.exit_code == 1
            lines = [line for line in result.output.splitlines() if not line.endswith(" found")]
            assert lines, result.output
            for line in lines:
                assert located(line), f"no path:line:col: {line[:300]!r}"

    try:
        run()
    finally:
        (repo.root / FUZZ_FILE).write_bytes(original)
    figures(examples=len(exits), exit_1=exits.count(1), exit_0=exits.count(0))


NASTY = {
    "billion-laughs": BILLION_LAUGHS + "name: *i\n",
    "deep-flow": "name: " + "[" * 100_000 + "\n",
    "deep-block": "".join("  " * i + f"k{i}:\n" for i in range(3000)) + "  " * 3000 + "x\n",
    "duplicate-keys": "name: A\nname: B\n",
    "tabs": "name: A\n\tmc_number: '1'\n",
    "binary": "\x00\x01\x02\xff",
    "huge-line": "name: " + "x" * 2_000_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_nasty_files_through_a_real_process(repo: ConfigRepo, tmp_path: Path, name: str,
                                            figures: Recorder) -> None:
    copy = repo.copy_to(tmp_path / "repo")
    (copy.root / FUZZ_FILE).write_bytes(NASTY[name].encode("utf-8", "surrogateescape"))
    started = time.perf_counter()
    result = subprocess.run([RTSSYNC, "-C", str(copy.root), "validate"], capture_output=True,
                            text=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    figures(seconds=round(elapsed, 2), exit=result.returncode)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith(FUZZ_FILE)]
    assert problems, result.stderr[:500]
    assert all(located(line) for line in problems), result.stderr[:500]
