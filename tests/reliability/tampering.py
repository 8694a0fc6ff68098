"""Systematic mutations of a SOPS-encrypted subsidiary file, each a named text transformation.

A mutation changes what an attacker (or a bad merge) could change in the file: every region of
each encrypted value (ciphertext, IV, tag: first, middle and last byte), its type, the MAC, the
``lastmodified`` timestamp it is bound to, the age stanzas that wrap the data key, the recipients,
and whole values swapped between places or files.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Iterator

Mutation = Callable[[str], str]

ENC = re.compile(
    r"ENC\[AES256_GCM,data:(?P<data>[^,]*),iv:(?P<iv>[^,]*),tag:(?P<tag>[^,]*),"
    r"type:(?P<type>[^\]]*)\]"
)
ENCRYPTED_KEYS = ("username", "password", "mac")
REGIONS = ("data", "iv", "tag")


def _line_of(text: str, key: str) -> re.Match[str]:
    found = re.search(rf"^(?P<indent>\s*){key}: (?P<value>ENC\[[^\n]*\])$", text, re.MULTILINE)
    assert found is not None, f"no encrypted {key} in the file"
    return found


def _flip_byte(b64: str, where: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    position = {"first": 0, "middle": len(raw) // 2, "last": len(raw) - 1}[where]
    raw[position] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _edit_enc(key: str, edit: Callable[[re.Match[str]], str]) -> Mutation:
    def mutate(text: str) -> str:
        line = _line_of(text, key)
        value = line.group("value")
        changed = ENC.sub(edit, value, count=1)
        return text[: line.start("value")] + changed + text[line.end("value"):]

    return mutate


def _with_part(match: re.Match[str], part: str, new: str) -> str:
    parts = {name: match.group(name) for name in (*REGIONS, "type")}
    parts[part] = new
    return (f"ENC[AES256_GCM,data:{parts['data']},iv:{parts['iv']},tag:{parts['tag']},"
            f"type:{parts['type']}]")


def byte_flips() -> Iterator[tuple[str, Mutation]]:
    for key in ENCRYPTED_KEYS:
        for region in REGIONS:
            for where in ("first", "middle", "last"):
                def edit(m: re.Match[str], region: str = region, where: str = where) -> str:
                    return _with_part(m, region, _flip_byte(m.group(region), where))
                yield f"{key}.{region}.{where}-byte", _edit_enc(key, edit)


def type_changes() -> Iterator[tuple[str, Mutation]]:
    for key in ("username", "password"):
        for kind in ("int", "float", "bool", "comment", "time", "bytes", ""):
            def edit(m: re.Match[str], kind: str = kind) -> str:
                return _with_part(m, "type", kind)
            yield f"{key}.type={kind or 'empty'}", _edit_enc(key, edit)


def truncations() -> Iterator[tuple[str, Mutation]]:
    for key in ENCRYPTED_KEYS:
        def drop_tag(text: str, key: str = key) -> str:
            line = _line_of(text, key)
            value = re.sub(r",tag:[^,]*", "", line.group("value"))
            return text[: line.start("value")] + value + text[line.end("value"):]
        yield f"{key}.tag-removed", drop_tag


def _swap(text: str, first: str, second: str) -> str:
    a, b = _line_of(text, first), _line_of(text, second)
    lines = {a.group("value"): b.group("value"), b.group("value"): a.group("value")}
    return re.sub(r"ENC\[[^\n]*\]", lambda m: lines.get(m.group(0), m.group(0)), text)


def swaps(other_file: str) -> Iterator[tuple[str, Mutation]]:
    yield "username<->password", lambda text: _swap(text, "username", "password")
    for key in ENCRYPTED_KEYS:
        theirs = _line_of(other_file, key).group("value")

        def graft(text: str, key: str = key, theirs: str = theirs) -> str:
            line = _line_of(text, key)
            return text[: line.start("value")] + theirs + text[line.end("value"):]
        yield f"{key}-from-another-file", graft
    theirs_sops = other_file[other_file.index("\nsops:"):]
    yield "sops-block-from-another-file", lambda text: text[: text.index("\nsops:")] + theirs_sops


def metadata_changes() -> Iterator[tuple[str, Mutation]]:
    def lastmodified(new: Callable[[str], str]) -> Mutation:
        return lambda text: re.sub(r'(lastmodified: ")([^"]*)(")',
                                   lambda m: m.group(1) + new(m.group(2)) + m.group(3), text)
    def one_second_later(old: str) -> str:
        return old[:-3] + f"{(int(old[-3:-1]) + 1) % 60:02d}Z"
    yield "lastmodified+1s", lastmodified(one_second_later)
    yield "lastmodified-1year", lastmodified(lambda old: str(int(old[:4]) - 1) + old[4:])
    yield "mac-removed", lambda text: re.sub(r"^\s*mac: ENC\[[^\n]*\n", "", text, flags=re.M)
    yield "mac-emptied", lambda text: re.sub(r"(^\s*mac: )ENC\[[^\n]*", r"\1''", text,
                                             flags=re.M)
    yield "mac_only_encrypted-false", lambda text: text.replace(
        "mac_only_encrypted: true", "mac_only_encrypted: false")
    yield "encrypted_regex-narrowed", lambda text: text.replace(
        "encrypted_regex: ^(username|password)$", "encrypted_regex: ^password$")
    yield "password-deleted", lambda text: re.sub(r"^\s*password: ENC[^\n]*\n", "", text,
                                                  flags=re.M)
    yield "credential-order-swapped", _swap_credential_lines


def _swap_credential_lines(text: str) -> str:
    user, password = _line_of(text, "username"), _line_of(text, "password")
    user_line, password_line = user.group(0), password.group(0)
    return text.replace(user_line + "\n" + password_line, password_line + "\n" + user_line)


def _armor_lines(text: str) -> list[int]:
    lines = text.split("\n")
    begin = next(i for i, line in enumerate(lines) if "BEGIN AGE ENCRYPTED FILE" in line)
    end = next(i for i, line in enumerate(lines) if "END AGE ENCRYPTED FILE" in line)
    return list(range(begin, end + 1))


def _edit_armor(pick: Callable[[list[int]], int], edit: Callable[[str], str]) -> Mutation:
    def mutate(text: str) -> str:
        lines = text.split("\n")
        index = pick(_armor_lines(text))
        lines[index] = edit(lines[index])
        return "\n".join(lines)

    return mutate


def _change_char(line: str, at: float) -> str:
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    position = min(len(stripped) - 1, int(len(stripped) * at))
    old = stripped[position]
    new = "A" if old != "A" else "B"
    return indent + stripped[:position] + new + stripped[position + 1:]


def _age_block(text: str) -> str:
    found = re.search(r"\n\s*age:\n(?:\s*- recipient:.*\n\s*enc: \|\n(?:\s{10,}.*\n)+)", text)
    assert found is not None, "no age block"
    return found.group(0)


def age_changes(foreign_file: str) -> Iterator[tuple[str, Mutation]]:
    """``foreign_file``: a file encrypted for someone else's age key."""
    picks: dict[str, Callable[[list[int]], int]] = {
        "header": lambda rows: rows[0], "first-body-line": lambda rows: rows[1],
        "middle-body-line": lambda rows: rows[len(rows) // 2],
        "last-body-line": lambda rows: rows[-2], "footer": lambda rows: rows[-1],
    }
    for name, pick in picks.items():
        for at in (0.1, 0.6):
            change = functools.partial(_change_char, at=at)
            yield f"age-stanza.{name}@{at}", _edit_armor(pick, change)
    yield "age-stanza.body-line-removed", lambda text: "\n".join(
        line for i, line in enumerate(text.split("\n")) if i != _armor_lines(text)[2])
    yield "recipients-removed", lambda text: re.sub(
        r"(\n\s*age:\n)(?:\s*- recipient:.*\n\s*enc: \|\n(?:\s{10,}.*\n)+)", r"\1", text)
    yield "recipients-emptied", lambda text: re.sub(
        r"\n(\s*)age:\n(?:\s*- recipient:.*\n\s*enc: \|\n(?:\s{10,}.*\n)+)", r"\n\1age: []\n",
        text)
    foreign = _age_block(foreign_file)
    yield "age-block-of-another-key", lambda text: text.replace(_age_block(text), foreign)


def all_mutations(sibling_file: str, foreign_file: str) -> list[tuple[str, Mutation]]:
    """``sibling_file``: another file of the same repository (same key, its own data key)."""
    return [*byte_flips(), *type_changes(), *truncations(), *swaps(sibling_file),
            *metadata_changes(), *age_changes(foreign_file)]
