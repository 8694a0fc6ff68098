"""Native SOPS (DESIGN §2.2): read and write standard sops 3.x YAML files in-process.

Values are decrypted in memory only; nothing here writes plaintext to disk. Key types rtssync
cannot handle natively (PGP, cloud KMS, Vault) are handed to the ``sops`` binary.
"""

from rtssync.sops.rules import CreationRule, RuleKeyGroup, find_creation_rule, load_creation_rules

__all__ = [
    "CreationRule",
    "RuleKeyGroup",
    "find_creation_rule",
    "load_creation_rules",
]
