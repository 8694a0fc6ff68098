"""YAML files with file, line and column kept for every value (DESIGN §4, the "load" arrow).

Parsing is done by libyaml (``yaml.CSafeLoader``'s composer); this module only walks the node tree
once, building plain Python data and a location table as it goes. It never raises for bad content:
every problem (syntax, duplicate keys, non-text keys, aliases, YAML 1.1 surprises such as ``yes``
read as a boolean) is collected so that ``validate`` can report all of them in one run.

Why so strict: the files drive credentials and legal text in a TMS, and the same file is read by
PyYAML (YAML 1.1) here and by Go's yaml.v3 (YAML 1.2) inside ``sops``. A value that two readers
can disagree about (``012345``, ``yes``, ``1e3``) must be quoted, so we say so instead of guessing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rtssync.errors import Problem
from rtssync.model import SourceLocation

PathKey = tuple[str | int, ...]
"""A path into a document: mapping keys and sequence indices from the root."""

MAX_DEPTH = 64
"""Deeper nesting is never legitimate here; the cap keeps the walker's recursion bounded."""

MAX_ALIAS_REPORTS = 5

MAX_FILE_BYTES = 1024 * 1024
"""A subsidiary file is a few KB (the NOA is at most 10,000 characters); a bigger file is a
mistake, and not reading it whole keeps a stray multi-GB file from exhausting memory."""

SECRET_KEYS = frozenset({"username", "password"})
"""Values under these keys are credentials: messages name the field but never show the value."""

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _TIMESTAMP, _MERGE = (_TAG + t for t in ("map", "seq", "timestamp", "merge"))

# A number both YAML 1.1 and 1.2 read the same way.
_PLAIN_NUMBER = re.compile(r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
# Text to PyYAML (YAML 1.1) but a number to YAML 1.2 readers such as sops: leading zeros, 1e3.
_NUMBER_TO_OTHERS = re.compile(
    r"[-+]?(?:0[0-9_]+(?:\.[0-9]*)?|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+)"
)
_UNAMBIGUOUS_BOOL = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})

_CONSTRUCTOR = yaml.constructor.SafeConstructor()


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """One YAML file: its plain data, where each value is written, and what is wrong with it.

    ``data`` is ``None`` when the file could not be parsed at all (see ``problems``). Values that
    were reported (an alias, a non-text key) are left out of ``data`` rather than guessed.
    """

    path: Path
    """The file as messages name it (relative to the config repository root)."""
    data: object
    digest: str
    """sha256 of the file's bytes: saved plans use it to notice the file changed."""
    problems: tuple[Problem, ...]
    value_marks: Mapping[PathKey, tuple[int, int]] = field(repr=False)
    key_marks: Mapping[PathKey, tuple[int, int]] = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def location_of(self, path: Sequence[str | int]) -> SourceLocation:
        """Where the value at ``path`` is written (or its nearest written ancestor).

        For a block mapping or list that is the line of its key, which is what a reader looks
        for; for everything else it is the value itself.
        """
        key = tuple(path)
        while key not in self.value_marks and key:
            key = key[:-1]
        line, column = self.value_marks.get(key, (1, 1))
        return SourceLocation(self.path, line, column)

    def key_location(self, path: Sequence[str | int]) -> SourceLocation:
        """Where the mapping key naming ``path`` is written; falls back to :meth:`location_of`."""
        mark = self.key_marks.get(tuple(path))
        if mark is None:
            return self.location_of(path)
        return SourceLocation(self.path, mark[0], mark[1])


def dotted(path: Sequence[str | int]) -> str:
    """``("policy", "allowed_hosts", 0)`` -> ``policy.allowed_hosts[0]``: how messages name it."""
    if all(isinstance(part, str) and part for part in path):
        return ".".join(map(str, path))  # the common case: plan names ~30 paths per file
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def load_yaml_file(path: Path, display_path: Path | None = None) -> LoadedDocument:
    """Read and load one file; unreadable or oversized files become a problem, not an exception.
    """
    shown = display_path if display_path is not None else path
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        problem = Problem(None, f"cannot read file: {reason}", path_hint=str(shown))
        return _failed(shown, b"", problem)
    if len(raw) > MAX_FILE_BYTES:
        problem = Problem(None, f"larger than {MAX_FILE_BYTES // 1024 // 1024} MiB; a config "
                                "file is a few KB: is this the right file?", path_hint=str(shown))
        return _failed(shown, raw, problem)
    return load_yaml_bytes(raw, shown)


def load_yaml_bytes(raw: bytes, display_path: Path) -> LoadedDocument:
    """Load YAML from bytes (UTF-8), collecting every problem with its file:line:col."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _failed(display_path, raw, _not_utf8(raw, error.start, display_path))
    try:
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as error:
        return _failed(display_path, raw, syntax_problem(error, text, display_path))
    except yaml.reader.ReaderError as error:
        return _failed(display_path, raw, _reader_problem(error, text, display_path))
    except yaml.YAMLError as error:  # pragma: no cover - libyaml always marks its errors
        return _failed(display_path, raw, Problem(
            None, f"invalid YAML: {error}", path_hint=str(display_path)))
    walker = _Walker(display_path)
    data = walker.value(root, (), 0) if root is not None else None
    if walker.found_alias:
        walker.problems.extend(_alias_problems(text, display_path))
    return LoadedDocument(
        path=display_path,
        data=data,
        digest=hashlib.sha256(raw).hexdigest(),
        problems=tuple(walker.problems),
        value_marks=walker.values,
        key_marks=walker.keys,
    )


def _failed(path: Path, raw: bytes, problem: Problem) -> LoadedDocument:
    return LoadedDocument(path, None, hashlib.sha256(raw).hexdigest(), (problem,), {}, {})


def _not_utf8(raw: bytes, offset: int, path: Path) -> Problem:
    """Non-UTF-8 bytes (a binary file, a Latin-1 editor): name the first bad byte's position."""
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return Problem(
        SourceLocation(path, line, column),
        f"not UTF-8 text (byte 0x{raw[offset]:02x}); save the file as UTF-8",
    )


def syntax_problem(error: yaml.MarkedYAMLError, text: str, path: Path) -> Problem:
    """A YAML syntax error as one ``path:line:col: what to do`` problem (also used for
    ``.sops.yaml``, so every YAML file's mistakes read the same)."""
    mark = error.problem_mark or error.context_mark
    where = SourceLocation(path, mark.line + 1, mark.column + 1) if mark else None
    problem = error.problem or "invalid YAML"
    if "tab" in problem or _char_at(text, mark) == "\t":
        message = "tab character: YAML indentation must use spaces, not tabs"
    elif "expected a single document" in (error.context or ""):
        message = "more than one YAML document ('---'); keep one document per file"
    else:
        context = f" ({error.context})" if error.context else ""
        message = f"invalid YAML: {problem}{context}; check the indentation and quoting here"
    return Problem(where, message, path_hint=str(path))


def _char_at(text: str, mark: yaml.Mark | None) -> str | None:
    """The character a libyaml mark points at (its ``index`` counts characters, not bytes)."""
    index = getattr(mark, "index", None)
    if isinstance(index, int) and 0 <= index < len(text):
        return text[index]
    return None


def _reader_problem(error: yaml.reader.ReaderError, text: str, path: Path) -> Problem:
    """Control characters (binary garbage that happens to be UTF-8): libyaml gives an offset."""
    offset = min(max(error.position, 0), len(text))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    character = error.character
    code = ord(character) if isinstance(character, str) else int(character)
    return Problem(
        SourceLocation(path, line, column),
        f"control character U+{code:04X} is not allowed in YAML; is this a text file?",
    )


def _alias_problems(text: str, path: Path) -> list[Problem]:
    """Point at every ``*alias``: only re-parsed when the walk found one, so the fast path is free.

    Aliases are rejected outright: they make a value's meaning depend on another place in the
    file, and expanded naively they are the "billion laughs" bomb.
    """
    problems = []
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent) and mark is not None:
            problems.append(Problem(
                SourceLocation(path, mark.line + 1, mark.column + 1),
                f"alias *{event.anchor} is not allowed; write the value out in full",
            ))
            if len(problems) == MAX_ALIAS_REPORTS:
                break  # a YAML bomb has thousands; the first few say it all
    return problems


class _Walker:
    """One pass over the composed node tree: plain data out, marks and problems on the side."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[PathKey, tuple[int, int]] = {(): (1, 1)}
        self.keys: dict[PathKey, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.found_alias = False
        self._seen: set[int] = set()

    def report(self, node: Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(SourceLocation(self.path, mark.line + 1, mark.column + 1),
                                     message))

    def value(self, node: Node, path: PathKey, depth: int) -> object:
        # The composer turns an alias into the anchored node itself: seeing a node twice is how
        # an alias shows up here. Never descend twice (that is what keeps YAML bombs harmless).
        if id(node) in self._seen:
            self.found_alias = True
            return None
        self._seen.add(id(node))
        if depth > MAX_DEPTH:
            self.report(node, f"nested more than {MAX_DEPTH} levels deep")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if node.tag not in (_MAP, _SEQ):
            self.report(node, f"tag {node.tag} is not supported; remove it")
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        assert isinstance(node, SequenceNode)
        return [self.item(child, (*path, i), depth) for i, child in enumerate(node.value)]

    def item(self, node: Node, path: PathKey, depth: int) -> object:
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        return self.value(node, path, depth + 1)

    def mapping(self, node: MappingNode, path: PathKey, depth: int) -> dict[str, object]:
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in result or child in self.keys:
                first = self.keys[child][0]
                self.report(key_node, f"duplicate key '{key}' (first at line {first}); "
                                      "keep only one")
                continue
            key_mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            self.keys[child] = key_mark
            block = not isinstance(value_node, ScalarNode) and not value_node.flow_style
            value_mark = (value_node.start_mark.line + 1, value_node.start_mark.column + 1)
            self.values[child] = key_mark if block else value_mark
            result[key] = self.value(value_node, child, depth + 1)
        return result

    def key(self, node: Node, parent: PathKey) -> str | None:
        """A mapping key must be text. Anything else is reported and the entry is skipped."""
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return str(node.value)
        if id(node) in self._seen:
            self.found_alias = True
            return None
        where = f" in {dotted(parent)}" if parent else ""
        if not isinstance(node, ScalarNode):
            self.report(node, f"a key must be plain text, not a list or mapping{where}")
        elif node.tag == _MERGE:
            self.report(node, f"merge keys (<<) are not supported{where}; write the fields out")
        else:
            self.report(node, f"key {node.value!r}{where} is read as {_kind(node)}, not text; "
                              f"quote it: \"{node.value}\"")
        return None

    def scalar(self, node: ScalarNode, path: PathKey) -> object:
        tag = node.tag
        if tag == _STR:
            if not node.style and _NUMBER_TO_OTHERS.fullmatch(node.value):
                self.report_value(node, path, "{v} is text here but a number to YAML 1.2 tools "
                                              "such as sops; quote it: \"{v}\"")
            return node.value
        if tag == _NULL:
            return None
        if tag not in (_INT, _FLOAT, _BOOL):
            what = "a date/time" if tag == _TIMESTAMP else f"tag {tag}"
            self.report_value(node, path, f"{{v}} is read as {what}, which is not supported "
                                          "here; quote it: \"{v}\"")
            return None
        surprise = _surprise(node)
        if surprise:
            self.report_value(node, path, surprise)
        return _CONSTRUCTOR.construct_object(node)

    def report_value(self, node: ScalarNode, path: PathKey, template: str) -> None:
        """Report a value, written into ``template`` as ``{v}``, unless it is a credential."""
        if path and path[-1] in SECRET_KEYS:
            # Not even a derived number: octal 5349 gives away 012345.
            text = "this value is not read as text by YAML; quote it"
        else:
            text = template.replace("{v}", node.value)
        self.report(node, f"{_name(path)}{text}")


def _name(path: PathKey) -> str:
    return f"{dotted(path)}: " if path else ""


def _surprise(node: ScalarNode) -> str | None:
    """A plain int/float/bool whose YAML 1.1 reading is not what it looks like: a message
    template with the value as ``{v}`` (see :meth:`_Walker.report_value`)."""
    if node.style:
        return None  # quoted with an explicit tag (!!int "12"): the author said what they mean
    text = node.value
    if node.tag == _BOOL:
        if text in _UNAMBIGUOUS_BOOL:
            return None
        meaning = "true" if text.lower() in ("yes", "on") else "false"
        return (f"{{v}} is read as the boolean {meaning} (YAML 1.1); write {meaning}, "
                "or quote it if you mean the text: \"{v}\"")
    if _PLAIN_NUMBER.fullmatch(text):
        return None
    number = _CONSTRUCTOR.construct_object(node)
    if text.lstrip("+-").startswith("0") and text.lstrip("+-")[1:2].isdigit():
        return (f"{{v}} is read as the octal number {number} and loses its leading zero; "
                "quote it: \"{v}\"")
    base = "base-60 " if ":" in text else ""
    return f"{{v}} is read as the {base}number {number}; quote it: \"{{v}}\""


def _kind(node: ScalarNode) -> str:
    return {
        _INT: "a number", _FLOAT: "a number", _BOOL: "a boolean", _NULL: "null",
        _TIMESTAMP: "a date/time",
    }.get(node.tag, f"tag {node.tag}")


def relative_to_root(root: Path, path: Path) -> Path:
    """How messages name a file: relative to the config repository root when it is inside it."""
    try:
        return path.relative_to(root)
    except ValueError:
        return path
