"""Shamir shares as sops (HashiCorp Vault's scheme) makes them: any threshold rebuilds."""

from __future__ import annotations

import itertools
import os

import pytest

from rtssync.sops.shamir import ShamirError, combine, split


@pytest.mark.parametrize(("parts", "threshold"), [(2, 2), (3, 2), (5, 3)])
def test_any_threshold_shares_rebuild_the_secret(parts: int, threshold: int) -> None:
    secret = os.urandom(32)
    shares = split(secret, parts, threshold)
    assert all(len(share) == 33 for share in shares)
    assert len({share[-1] for share in shares}) == parts
    for chosen in itertools.combinations(shares, threshold):
        assert combine(list(chosen)) == secret


def test_fewer_shares_than_the_threshold_do_not_reveal_the_secret() -> None:
    secret = os.urandom(32)
    shares = split(secret, 3, 3)
    assert combine(shares[:2]) != secret


def test_vault_known_answer() -> None:
    """A vector computed by hand: secret byte 0x2A, polynomial 0x2A + 0x07·x, x = 1 and 2."""
    share_at_1 = bytes([0x2A ^ 0x07, 1])
    share_at_2 = bytes([0x2A ^ 0x0E, 2])
    assert combine([share_at_1, share_at_2]) == b"\x2a"


def test_bad_shares_are_errors() -> None:
    with pytest.raises(ShamirError):
        combine([b"\x01\x02"])
    with pytest.raises(ShamirError):
        combine([b"\x01\x02", b"\x01\x02"])
    with pytest.raises(ShamirError):
        split(b"x", 2, 3)
