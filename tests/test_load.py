"""rtssync.load: YAML with file:line:col for every value, and every surprise reported."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from rtssync.load import LoadedDocument, dotted, load_yaml_bytes, load_yaml_file

F = Path("config/subsidiaries/f.yaml")


def load(text: str | bytes) -> LoadedDocument:
    raw = text.encode() if isinstance(text, str) else text
    return load_yaml_bytes(raw, F)


def messages(text: str | bytes) -> list[str]:
    return [str(p) for p in load(text).problems]


def test_plain_data_and_locations_of_every_value() -> None:
    doc = load(
        "name: Alpha\n"
        "factoring:\n"
        "  ftp:\n"
        "    host: devftp.rtsfinancial.com\n"
        "    port: 21\n"
        "hosts: [a, 'b']\n"
    )

    assert doc.ok
    assert doc.data == {
        "name": "Alpha",
        "factoring": {"ftp": {"host": "devftp.rtsfinancial.com", "port": 21}},
        "hosts": ["a", "b"],
    }
    assert str(doc.location_of(("factoring", "ftp", "host"))) == f"{F}:4:11"
    assert str(doc.location_of(("factoring", "ftp", "port"))) == f"{F}:5:11"
    assert str(doc.key_location(("factoring", "ftp", "port"))) == f"{F}:5:5"
    # a block mapping is found where its key is written
    assert str(doc.location_of(("factoring", "ftp"))) == f"{F}:3:3"
    assert str(doc.location_of(("hosts", 1))) == f"{F}:6:12"
    # a path that is not there: its nearest written ancestor
    assert str(doc.location_of(("factoring", "ftp", "password"))) == f"{F}:3:3"
    assert str(doc.location_of(())) == f"{F}:1:1"


def test_digest_is_sha256_of_the_bytes() -> None:
    import hashlib

    raw = b"a: 1\n"
    assert load(raw).digest == hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "a: 1\nb: 2\na: 3\n",
            ["3:1: duplicate key 'a' (first at line 1); keep only one"],
            id="duplicate-key",
        ),
        pytest.param(
            "x:\n  y: 1\n  y: 2\n",
            ["3:3: duplicate key 'y' (first at line 2); keep only one"],
            id="duplicate-nested-key",
        ),
        pytest.param(
            "mc_number: 012345\n",
            ['1:12: mc_number: 012345 is read as the octal number 5349 and loses its leading '
             'zero; quote it: "012345"'],
            id="octal",
        ),
        pytest.param(
            "dot_number: 0123456789\n",
            ['1:13: dot_number: 0123456789 is text here but a number to YAML 1.2 tools such '
             'as sops; quote it: "0123456789"'],
            id="leading-zero-not-octal",
        ),
        pytest.param(
            "invoicing:\n  auto_merge: yes\n",
            ['2:15: invoicing.auto_merge: yes is read as the boolean true (YAML 1.1); write '
             'true, or quote it if you mean the text: "yes"'],
            id="yes-as-bool",
        ),
        pytest.param(
            "a: off\n",
            ['1:4: a: off is read as the boolean false (YAML 1.1); write false, or quote it '
             'if you mean the text: "off"'],
            id="off-as-bool",
        ),
        pytest.param(
            "a: 1e3\n",
            ['1:4: a: 1e3 is text here but a number to YAML 1.2 tools such as sops; '
             'quote it: "1e3"'],
            id="exponent",
        ),
        pytest.param(
            "a: 1:20\n",
            ['1:4: a: 1:20 is read as the base-60 number 80; quote it: "1:20"'],
            id="sexagesimal",
        ),
        pytest.param(
            "a: 2024-01-01\n",
            ['1:4: a: 2024-01-01 is read as a date/time, which is not supported here; '
             'quote it: "2024-01-01"'],
            id="timestamp",
        ),
        pytest.param(
            "a: 0x1F\n",
            ['1:4: a: 0x1F is read as the number 31; quote it: "0x1F"'],
            id="hex",
        ),
        pytest.param(
            "a: &x [1]\nb: *x\n",
            ["2:4: alias *x is not allowed; write the value out in full"],
            id="alias",
        ),
        pytest.param(
            "1: a\n",
            ['1:1: key \'1\' is read as a number, not text; quote it: "1"'],
            id="int-key",
        ),
        pytest.param(
            "on: a\n",
            ['1:1: key \'on\' is read as a boolean, not text; quote it: "on"'],
            id="bool-key",
        ),
        pytest.param(
            "? [a]\n: b\n",
            ["1:3: a key must be plain text, not a list or mapping"],
            id="list-key",
        ),
        pytest.param(
            "<<: {a: 1}\n",
            ["1:1: merge keys (<<) are not supported; write the fields out"],
            id="merge-key",
        ),
        pytest.param(
            "a: !custom x\n",
            ['1:4: a: x is read as tag !custom, which is not supported here; quote it: "x"'],
            id="custom-tag",
        ),
        pytest.param(
            "a:\n\tb: 1\n",
            ["2:1: tab character: YAML indentation must use spaces, not tabs"],
            id="tab",
        ),
        pytest.param(
            "a: [1, 2\nb: 3\n",
            ["2:2: invalid YAML: did not find expected ',' or ']' (while parsing a flow "
             "sequence); check the indentation and quoting here"],
            id="syntax",
        ),
        pytest.param(
            "a: 1\n---\nb: 2\n",
            ["2:1: more than one YAML document ('---'); keep one document per file"],
            id="two-documents",
        ),
        pytest.param(
            b"name: caf\xe9\n",
            ["1:10: not UTF-8 text (byte 0xe9); save the file as UTF-8"],
            id="latin-1",
        ),
        pytest.param(
            b"name: ok\nx: \x01\x02\n",
            ["2:4: control character U+0001 is not allowed in YAML; is this a text file?"],
            id="control-characters",
        ),
        pytest.param(
            bytes(range(256)),
            ["2:118: not UTF-8 text (byte 0x80); save the file as UTF-8"],
            id="binary-garbage",
        ),
    ],
)
def test_bad_input_is_reported_with_line_and_column(text: str | bytes, expected: list[str]) -> None:
    assert messages(text) == [f"{F}:{message}" for message in expected]


def test_values_both_yaml_versions_agree_on_are_accepted() -> None:
    doc = load(
        "a: true\nb: False\nc: 21\nd: -1.5\ne: null\nf: ~\ng: '012345'\nh: \"yes\"\n"
        "i: 1.0e+3\nj: a#b\n"
    )

    assert doc.ok, doc.problems
    assert doc.data == {
        "a": True, "b": False, "c": 21, "d": -1.5, "e": None, "f": None, "g": "012345",
        "h": "yes", "i": 1000.0, "j": "a#b",
    }


def test_yaml_bomb_is_reported_quickly_without_expanding() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    started = time.perf_counter()

    doc = load("\n".join(lines) + "\n")

    assert time.perf_counter() - started < 2
    assert len(doc.problems) == 5  # the first few aliases say it all
    assert all("alias *a0 is not allowed" in str(p) for p in doc.problems)


def test_deep_nesting_is_a_problem_not_a_recursion_error() -> None:
    doc = load("[" * 500 + "]" * 500)

    assert [p.message for p in doc.problems] == ["nested more than 64 levels deep"]


def test_empty_file_loads_as_none_without_problems() -> None:
    doc = load("")

    assert doc.data is None
    assert doc.ok


def test_unreadable_file_is_a_problem_naming_the_path(tmp_path: Path) -> None:
    doc = load_yaml_file(tmp_path / "missing.yaml", Path("missing.yaml"))

    assert [str(p) for p in doc.problems] == ["missing.yaml: cannot read file: No such file or "
                                              "directory"]


def test_dotted_names_paths_the_way_messages_show_them() -> None:
    assert dotted(("policy", "allowed_hosts", 0)) == "policy.allowed_hosts[0]"
    assert dotted(()) == ""


def test_loading_stays_within_3x_of_plain_csafeloader() -> None:
    text = (
        "# yaml-language-server: $schema=../../schemas/subsidiary.schema.json\n"
        "name: Alpha Freight LLC\ntms_id: null\nmc_number: '100001'\ndot_number: '2000001'\n"
        "notice_of_assignment: |\n" + "  NOTICE OF ASSIGNMENT line\n" * 8 +
        "invoicing:\n  method: factoring\n  auto_merge: true\n"
        "factoring:\n  provider: rts\n  ftp:\n    protocol: ftp\n    host: h.example\n"
        "    port: 21\n    directory: /incoming\n    host_key: null\n"
        "    username: ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]\n"
        "sops:\n  age:\n    - recipient: age1xyz\n      enc: |\n        ----\n"
        "  lastmodified: '2026-01-01T00:00:00Z'\n  mac_only_encrypted: true\n"
    )
    raw = text.encode()

    def best_of_three(run: object) -> float:
        assert callable(run)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(300):
                run()
            times.append(time.perf_counter() - started)
        return min(times)

    plain = best_of_three(lambda: yaml.load(raw.decode(), Loader=yaml.CSafeLoader))
    ours = best_of_three(lambda: load_yaml_bytes(raw, F))

    assert ours < 3 * plain


@pytest.mark.parametrize("raw", ["012345", "yes", "1e5", "2020-01-01", "0x10", "1:20"])
def test_a_credential_value_is_never_shown_not_even_as_the_number_it_became(raw: str) -> None:
    doc = load(f"factoring:\n  ftp:\n    password: {raw}\n    username: {raw}\n")

    shown = [str(p) for p in doc.problems]
    assert shown == [
        f"{F}:3:15: factoring.ftp.password: this value is not read as text by YAML; quote it",
        f"{F}:4:15: factoring.ftp.username: this value is not read as text by YAML; quote it",
    ]


def test_windows_line_endings_and_a_byte_order_mark_load_with_the_right_lines() -> None:
    doc = load("\ufeffname: Alpha\r\nnoa: |\r\n  line one\r\n  line two\r\nport: 21\r\n")

    assert doc.ok
    assert doc.data == {"name": "Alpha", "noa": "line one\nline two\n", "port": 21}
    assert str(doc.location_of(("port",))) == f"{F}:5:7"


def test_an_oversized_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * (2 * 1024 * 1024) + b"\n")

    doc = load_yaml_file(big, Path("big.yaml"))

    assert doc.data is None
    assert [str(p) for p in doc.problems] == [
        "big.yaml: larger than 1 MiB; a config file is a few KB: is this the right file?"
    ]


def test_a_quoted_value_with_a_line_break_keeps_the_problem_on_one_line() -> None:
    assert messages(b"names:\n- !!binary |\n  AA==\n") == [
        'config/subsidiaries/f.yaml:2:3: names[0]: AA==\\n is read as tag '
        'tag:yaml.org,2002:binary, which is not supported here; quote it: "AA==\\n"']


def test_dotted_joins_plain_keys_and_keeps_odd_ones_exact() -> None:
    assert dotted(("factoring", "ftp", "host")) == "factoring.ftp.host"
    assert dotted(("", "a")) == "a"
    assert dotted(("a", 0, "b")) == "a[0].b"
