"""Schema checks: valid documents pass quickly, and every verdict is jsonschema's."""

from __future__ import annotations

from pathlib import Path

from rtssync.load import LoadedDocument, load_yaml_bytes
from rtssync.schema import SUBSIDIARY_SCHEMA, _passes_fast_check, schema_problems

VALID = b"""name: Alpha Freight LLC
mc_number: "100001"
dot_number: "2000001"
notice_of_assignment: Pay RTS only.
invoicing: {method: factoring, auto_merge: true}
factoring:
  provider: rts
  ftp:
    protocol: ftp
    host: devftp.rtsfinancial.com
    port: 21
    directory: /incoming
    username: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]
"""


def load(text: bytes) -> LoadedDocument:
    return load_yaml_bytes(text, Path("alpha.yaml"))


def problems(text: bytes) -> list[str]:
    doc = load(text)
    return [p.message for p in schema_problems(doc, SUBSIDIARY_SCHEMA)]


def test_a_valid_subsidiary_has_no_problems() -> None:
    assert problems(VALID) == []


def test_a_schema_violation_is_still_explained_with_its_field() -> None:
    found = problems(VALID.replace(b'"100001"', b'"10-0001"'))
    assert len(found) == 1
    assert found[0].startswith("mc_number:")


def test_where_the_fast_check_is_stricter_jsonschema_decides() -> None:
    """jsonschema-rs reads ``$`` as end of text, Python's re also before a final newline; the
    document the fast check rejects goes to jsonschema, so the verdict does not change."""
    trailing_newline = VALID.replace(b"name: Alpha Freight LLC", b'name: "Alpha Freight LLC\\n"')
    assert not _passes_fast_check(SUBSIDIARY_SCHEMA, load(trailing_newline).data)
    assert problems(trailing_newline) == []
