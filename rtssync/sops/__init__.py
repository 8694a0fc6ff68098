"""Native SOPS (DESIGN §2.2): read and write standard sops 3.x YAML files in-process.

Values are decrypted in memory only; nothing here writes plaintext to disk. Key types rtssync
cannot handle natively (PGP, cloud KMS, Vault) are handed to the ``sops`` binary.
"""

from rtssync.sops.cipher import is_encrypted
from rtssync.sops.document import (
    ValuePath,
    data_key_of,
    decrypt_document,
    decrypt_parsed_values,
    decrypt_values,
    encrypt_document,
    load_document,
    read_metadata,
    selector_of,
)
from rtssync.sops.edit import set_encrypted_values
from rtssync.sops.keys import Identities, clear_identity_cache, find_identities
from rtssync.sops.metadata import SOPS_VERSION, AgeStanza, KeyGroup, SopsMetadata
from rtssync.sops.rules import CreationRule, RuleKeyGroup, find_creation_rule, load_creation_rules

__all__ = [
    "SOPS_VERSION",
    "AgeStanza",
    "CreationRule",
    "Identities",
    "KeyGroup",
    "RuleKeyGroup",
    "SopsMetadata",
    "ValuePath",
    "clear_identity_cache",
    "data_key_of",
    "decrypt_document",
    "decrypt_parsed_values",
    "decrypt_values",
    "encrypt_document",
    "find_creation_rule",
    "find_identities",
    "is_encrypted",
    "load_creation_rules",
    "load_document",
    "read_metadata",
    "selector_of",
    "set_encrypted_values",
]
