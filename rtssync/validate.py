"""``rtssync validate``: every problem of every file in one run, with no keys and no TMS.

Checks, in the order a reader fixes them: YAML (``load``), the JSON Schema, the rules the schema
cannot say (AutoMerge for factoring, credentials encrypted, the file's SOPS settings and the
``.sops.yaml`` rule behind them), then the rules across files (unique keys, names, MC and DOT
numbers, TMS ids and RTS FTP usernames).

Usernames are encrypted, and SOPS ciphertext differs per file even for equal plaintext, so
without keys the one-login-per-subsidiary rule can only catch a ciphertext copied between files.
:func:`duplicate_username_problems` takes decrypted usernames so that commands holding keys
(``plan``, ``apply``, ``verify``) check the rule for real.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rtssync.config import Settings, check_settings
from rtssync.errors import ConfigError, Problem, RtssyncError
from rtssync.load import LoadedDocument, PathKey, dotted, load_yaml_file, relative_to_root
from rtssync.model import SourceLocation
from rtssync.schema import SUBSIDIARY_SCHEMA, schema_problems
from rtssync.sops.rules import SOPS_CONFIG_NAME, find_creation_rule, load_creation_rules

REQUIRED_ENCRYPTED_REGEX = "^(username|password)$"
SUBSIDIARY_SUFFIXES = (".yaml", ".yml")
KEY_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?")
ENCRYPTED_VALUE = re.compile(
    r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,"
    r"type:(?:str|int|float|bool)\]"
)
CREDENTIAL_FIELDS = ("username", "password")
FTP_PATH: PathKey = ("factoring", "ftp")


@dataclass(frozen=True, slots=True)
class SubsidiaryDocument:
    """One subsidiary file, loaded; ``key`` is its file stem."""

    key: str
    file: Path
    """Absolute path of the file."""
    doc: LoadedDocument


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """What validation found.

    ``problems`` block everything. ``incomplete`` (a password not set yet, as after ``import``)
    fails ``validate`` but still lets ``plan`` show the rest, so they are kept apart.
    """

    settings: Settings | None
    documents: tuple[SubsidiaryDocument, ...]
    problems: tuple[Problem, ...]
    incomplete: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and not self.incomplete

    def all_problems(self) -> list[Problem]:
        """Every problem, sorted by file, line and column (how a reader works through them)."""
        return sorted((*self.problems, *self.incomplete), key=_problem_order)


def _problem_order(problem: Problem) -> tuple[str, int, int, str]:
    where = problem.location
    if where is None:
        return (problem.path_hint or "", 0, 0, problem.message)
    return (where.path.as_posix(), where.line, where.column, problem.message)


def validate_repository(root: Path, config_file: Path) -> ValidationResult:
    """``rtssync validate``: the settings file, then every subsidiary file and the rules across."""
    settings, settings_problems = check_settings(root, config_file)
    if not config_file.is_file():
        return ValidationResult(None, (), tuple(settings_problems))  # probably the wrong folder
    if settings is None:
        # The files may still be at the default place; if so, report theirs too (one run, all
        # problems), else only the settings' (a missing folder would be a red herring).
        settings = Settings(root=root, source=config_file)
        if not settings.subsidiaries_dir.is_dir():
            return ValidationResult(None, (), tuple(settings_problems))
        result = validate_subsidiaries(settings)
        return ValidationResult(None, result.documents,
                                (*settings_problems, *result.problems), result.incomplete)
    return validate_subsidiaries(settings)


def validate_subsidiaries(settings: Settings) -> ValidationResult:
    """Every subsidiary file under ``settings.subsidiaries_dir``, and the rules across them."""
    files, problems = _subsidiary_files(settings)
    documents = [_load(settings.root, file) for file in files]
    incomplete: list[Problem] = []
    for document in documents:
        found, missing = check_subsidiary(document)
        problems.extend(found)
        incomplete.extend(missing)
    problems.extend(sops_rule_problems(settings.root, [d.file for d in documents]))
    problems.extend(cross_file_problems(documents))
    return ValidationResult(settings, tuple(documents), tuple(problems), tuple(incomplete))


def _load(root: Path, file: Path) -> SubsidiaryDocument:
    return SubsidiaryDocument(key=file.stem, file=file,
                              doc=load_yaml_file(file, relative_to_root(root, file)))


def _subsidiary_files(settings: Settings) -> tuple[list[Path], list[Problem]]:
    """The subsidiary files, sorted by name; a missing folder is a problem, an empty one not."""
    folder = settings.subsidiaries_dir
    shown = relative_to_root(settings.root, folder)
    if not folder.is_dir():
        return [], [Problem(None, "folder not found: create it and add one YAML file per "
                                  "subsidiary (or set config_dir in rtssync.yaml)",
                            path_hint=str(shown))]
    files = sorted(p for p in folder.iterdir()
                   if p.suffix in SUBSIDIARY_SUFFIXES and not p.name.startswith(".")
                   and p.is_file())
    return files, []


# --- one file ---------------------------------------------------------------------------------


def check_subsidiary(document: SubsidiaryDocument) -> tuple[list[Problem], list[Problem]]:
    """(problems, incomplete) of one subsidiary file on its own."""
    doc = document.doc
    problems = list(doc.problems)
    problems.extend(_key_problems(document))
    if doc.data is None:
        if doc.ok:
            problems.append(Problem(SourceLocation(doc.path, 1, 1),
                                    "file is empty; describe the subsidiary (see "
                                    "schemas/subsidiary.schema.json)"))
        return problems, []
    data = normalized_data(doc.data)
    problems.extend(schema_problems(doc, SUBSIDIARY_SCHEMA, data))
    if not isinstance(data, Mapping):
        return problems, []
    problems.extend(_invoicing_problems(doc, data))
    found, incomplete = _credential_problems(document, data)
    problems.extend(found)
    if not found:
        problems.extend(_sops_metadata_problems(document, data))
    return problems, incomplete


def normalized_data(data: object) -> object:
    """The document as the TMS will get it: the NOA with LF line endings (CRLF and CR -> LF)."""
    if isinstance(data, Mapping) and isinstance(data.get("notice_of_assignment"), str):
        copy = dict(data)
        copy["notice_of_assignment"] = normalize_line_endings(data["notice_of_assignment"])
        return copy
    return data


def normalize_line_endings(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _key_problems(document: SubsidiaryDocument) -> list[Problem]:
    if KEY_PATTERN.fullmatch(document.key):
        return []
    return [Problem(None, f"'{document.key}' is not a usable key (the file name is the "
                          "subsidiary's key): rename the file to lowercase letters, digits and "
                          "hyphens, e.g. alpha-freight.yaml", path_hint=str(document.doc.path))]


def _invoicing_problems(doc: LoadedDocument, data: Mapping[str, object]) -> list[Problem]:
    """Alvys only delivers to a factoring company with AutoMerge on (DESIGN §1)."""
    invoicing = data.get("invoicing")
    if not isinstance(invoicing, Mapping):
        return []
    if invoicing.get("method") == "factoring" and invoicing.get("auto_merge") is False:
        return [Problem(doc.location_of(("invoicing", "auto_merge")),
                        "invoicing.auto_merge: must be true when invoicing.method is factoring "
                        "(Alvys requires AutoMerge for the Factoring Company method)")]
    return []


def _ftp_block(data: Mapping[str, object]) -> Mapping[str, object] | None:
    factoring = data.get("factoring")
    ftp = factoring.get("ftp") if isinstance(factoring, Mapping) else None
    return ftp if isinstance(ftp, Mapping) else None


def _credential_problems(document: SubsidiaryDocument,
                         data: Mapping[str, object]) -> tuple[list[Problem], list[Problem]]:
    """Credentials must be SOPS values; a password not set yet is only 'incomplete'."""
    ftp = _ftp_block(data)
    if ftp is None:
        return [], []
    doc, problems = document.doc, []
    for name in CREDENTIAL_FIELDS:
        value = ftp.get(name)
        if isinstance(value, str) and not ENCRYPTED_VALUE.fullmatch(value):
            problems.append(Problem(doc.location_of((*FTP_PATH, name)), _plaintext_message(
                name, value, document.key)))
    incomplete = []
    if "password" not in ftp:
        incomplete.append(Problem(
            doc.key_location(FTP_PATH),
            f"factoring.ftp.password: not set: run rtssync secrets set {document.key} "
            "--username USERNAME --password-stdin"))
    return problems, incomplete


def _plaintext_message(name: str, value: str, key: str) -> str:
    """Never quotes the value: it is a credential."""
    fix = f"encrypt it with rtssync secrets set {key} --username USERNAME --password-stdin"
    if value.startswith("ENC["):
        return f"factoring.ftp.{name}: is not a valid SOPS value (damaged?); {fix}"
    return f"factoring.ftp.{name}: is not encrypted; {fix}"


def _sops_metadata_problems(document: SubsidiaryDocument,
                            data: Mapping[str, object]) -> list[Problem]:
    """The file's own ``sops`` block must keep the NOA readable and editable (DESIGN §2.2)."""
    doc = document.doc
    sops = data.get("sops")
    if not isinstance(sops, Mapping):
        if _ftp_block(data) is None or sops is not None:
            return []  # no credentials to protect, or the schema already said it is wrong
        return [Problem(SourceLocation(doc.path, 1, 1),
                        "no sops metadata: the credentials cannot be decrypted; set them again "
                        f"with rtssync secrets set {document.key}")]
    problems = []
    fix = (f"set the credentials again with rtssync secrets set {document.key}, which "
           "re-encrypts them under the .sops.yaml rule")
    if sops.get("encrypted_regex") != REQUIRED_ENCRYPTED_REGEX:
        problems.append(Problem(
            doc.location_of(("sops", "encrypted_regex")),
            f"sops.encrypted_regex: must be {REQUIRED_ENCRYPTED_REGEX} so that only the "
            f"credentials are encrypted and the NOA stays readable in a pull request; {fix}"))
    if sops.get("mac_only_encrypted") is not True:
        problems.append(Problem(
            doc.location_of(("sops", "mac_only_encrypted")),
            "sops.mac_only_encrypted: must be true so that the NOA can be edited without "
            f"breaking the file's MAC; {fix}"))
    return problems


# --- .sops.yaml ---------------------------------------------------------------------------------


def sops_rule_problems(root: Path, files: Sequence[Path]) -> list[Problem]:
    """The ``.sops.yaml`` rule each file gets must carry the same settings (reported per rule)."""
    problems: list[Problem] = []
    checked: set[int] = set()
    if files and not (root / SOPS_CONFIG_NAME).is_file():
        return [Problem(None, "not found: sops needs it to know the recipients and which values "
                              "to encrypt (rtssync init writes one)", path_hint=SOPS_CONFIG_NAME)]
    rules = None
    if files:
        try:
            rules = load_creation_rules(root / SOPS_CONFIG_NAME)  # once, not once per file
        except ConfigError as error:  # .sops.yaml itself is broken: one report is enough
            return [_relative_problem(root, p) for p in error.problems]
        except RtssyncError:
            pass  # unreadable: find_creation_rule says so for each file, as it always has
    for file in files:
        try:
            rule = find_creation_rule(root, file, rules)
        except ConfigError as error:  # .sops.yaml itself is broken: one report is enough
            return [_relative_problem(root, p) for p in error.problems]
        except RtssyncError as error:  # no rule for this file
            problems.append(Problem(None, _relative_text(root, str(error)),
                                    path_hint=SOPS_CONFIG_NAME))
            continue
        if rule.index in checked:
            continue
        checked.add(rule.index)
        problems.extend(_rule_problems(root, rule.line, rule.encrypted_regex,
                                       rule.mac_only_encrypted))
    return problems


def _rule_problems(root: Path, line: int, encrypted_regex: str | None,
                   mac_only_encrypted: bool) -> list[Problem]:
    where = SourceLocation(Path(SOPS_CONFIG_NAME), line, 1)
    problems = []
    if encrypted_regex != REQUIRED_ENCRYPTED_REGEX:
        problems.append(Problem(where, "the creation rule for subsidiary files needs "
                                       f"encrypted_regex: '{REQUIRED_ENCRYPTED_REGEX}'"))
    if not mac_only_encrypted:
        problems.append(Problem(where, "the creation rule for subsidiary files needs "
                                       "mac_only_encrypted: true"))
    return problems


def _relative_problem(root: Path, problem: Problem) -> Problem:
    where = problem.location
    if where is None:
        return problem
    return Problem(SourceLocation(relative_to_root(root, where.path), where.line, where.column),
                   _relative_text(root, problem.message))


def _relative_text(root: Path, text: str) -> str:
    """The rules module names files absolutely; validate's messages are relative to the root."""
    text = text.replace(f"{root}/", "")
    return text.removeprefix(f"{SOPS_CONFIG_NAME}: ")


# --- across files -------------------------------------------------------------------------------


def cross_file_problems(documents: Sequence[SubsidiaryDocument]) -> list[Problem]:
    """Keys, names, MC and DOT numbers, TMS ids and usernames belong to one subsidiary each."""
    problems = _duplicate_keys(documents)
    for path, what, normalize in _UNIQUE_FIELDS:
        problems.extend(_duplicates(documents, path, what, normalize))
    usernames = {d.key: (value, d.doc.location_of((*FTP_PATH, "username")))
                 for d in documents if isinstance(value := _get(d.doc.data, (*FTP_PATH,
                                                                            "username")), str)}
    problems.extend(duplicate_username_problems(usernames))
    return problems


def _fold(value: str) -> str:
    """Names compare as a person would: case and spacing do not make a different company."""
    return " ".join(value.split()).casefold()


def _same(value: str) -> str:
    return value


_UNIQUE_FIELDS: tuple[tuple[PathKey, str, Callable[[str], str]], ...] = (
    (("name",), "name", _fold),
    (("mc_number",), "MC number", _same),
    (("dot_number",), "DOT number", _same),
    (("tms_id",), "tms_id", _same),
)


def _get(data: object, path: PathKey) -> object:
    for part in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _duplicate_keys(documents: Sequence[SubsidiaryDocument]) -> list[Problem]:
    """alpha.yaml and alpha.yml would both be the subsidiary 'alpha'."""
    first: dict[str, Path] = {}
    problems = []
    for document in documents:
        if document.key in first:
            problems.append(Problem(None, f"key '{document.key}' is also the key of "
                                          f"{first[document.key]}; rename or remove one file",
                                    path_hint=str(document.doc.path)))
        else:
            first[document.key] = document.doc.path
    return problems


def _duplicates(documents: Sequence[SubsidiaryDocument], path: PathKey, what: str,
                normalize: Callable[[str], str]) -> list[Problem]:
    first: dict[str, SourceLocation] = {}
    problems = []
    for document in documents:
        value = _get(document.doc.data, path)
        if not isinstance(value, str):
            continue
        where = document.doc.location_of(path)
        seen = first.setdefault(normalize(value), where)
        if seen is not where:
            problems.append(Problem(where, f"{dotted(path)}: {value!r} is also the {what} of "
                                           f"{seen}; each subsidiary needs its own"))
    return problems


def duplicate_username_problems(
    usernames: Mapping[str, tuple[str, SourceLocation]],
) -> list[Problem]:
    """RTS issues one FTP login per subsidiary: the same username in two files is an error.

    ``usernames`` maps a subsidiary key to (username, where it is written). Pass decrypted
    usernames when keys are at hand (``plan``/``apply``/``verify``); ``validate`` has none and
    passes the stored values, which catches a ciphertext copied from one file to another (equal
    plaintext encrypts differently per file, so that is all it can see). Messages never show a
    username: it is a credential.
    """
    first: dict[str, SourceLocation] = {}
    problems = []
    for _key, (username, where) in sorted(usernames.items(), key=lambda kv: str(kv[1][1])):
        seen = first.setdefault(username, where)
        if seen is not where:
            problems.append(Problem(where, "factoring.ftp.username: the same RTS FTP username "
                                           f"as {seen}; RTS issues one login per subsidiary, "
                                           "so each file needs its own"))
    return problems


def raise_for_problems(result: ValidationResult) -> None:
    """ConfigError with every blocking problem, for callers that cannot go on (``plan``)."""
    if result.problems:
        raise ConfigError(sorted(result.problems, key=_problem_order))
