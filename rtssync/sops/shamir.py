"""Shamir secret sharing as sops uses it (HashiCorp Vault's ``shamir`` package).

Arithmetic is over GF(2^8) with the AES polynomial; each share is the secret's length in
polynomial values followed by one byte, the share's x coordinate. sops splits the data key across
key groups this way, and ``shamir_threshold`` shares rebuild it.
"""

from __future__ import annotations

import secrets


class ShamirError(Exception):
    """Shares that cannot rebuild a secret."""


def _mul(a: int, b: int) -> int:
    """Multiply in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return product


def _inverse(a: int) -> int:
    """Multiplicative inverse: a^254 in GF(2^8)."""
    if a == 0:
        raise ShamirError("zero has no inverse")
    result, power, exponent = 1, a, 254
    while exponent:
        if exponent & 1:
            result = _mul(result, power)
        power = _mul(power, power)
        exponent >>= 1
    return result


def _evaluate(coefficients: list[int], x: int) -> int:
    """Horner's rule; ``coefficients[0]`` is the intercept (the secret byte)."""
    result = 0
    for coefficient in reversed(coefficients):
        result = _mul(result, x) ^ coefficient
    return result


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which rebuild it."""
    if not 2 <= threshold <= parts <= 255:
        raise ShamirError("need 2 <= threshold <= parts <= 255")
    if not secret:
        raise ShamirError("cannot split an empty secret")
    xs = _distinct_x_coordinates(parts)
    shares = [bytearray() for _ in range(parts)]
    for byte in secret:
        coefficients = [byte] + [secrets.randbelow(256) for _ in range(threshold - 1)]
        for share, x in zip(shares, xs, strict=True):
            share.append(_evaluate(coefficients, x))
    return [bytes(share) + bytes([x]) for share, x in zip(shares, xs, strict=True)]


def _distinct_x_coordinates(count: int) -> list[int]:
    pool = list(range(1, 256))
    chosen = []
    for _ in range(count):
        chosen.append(pool.pop(secrets.randbelow(len(pool))))
    return chosen


def combine(shares: list[bytes]) -> bytes:
    """Rebuild the secret from shares (Lagrange interpolation at x = 0)."""
    if len(shares) < 2:
        raise ShamirError("need at least two shares")
    length = len(shares[0])
    if length < 2 or any(len(share) != length for share in shares):
        raise ShamirError("shares differ in length")
    xs = [share[-1] for share in shares]
    if len(set(xs)) != len(xs):
        raise ShamirError("duplicate share")
    weights = [_lagrange_weight(xs, i) for i in range(len(xs))]
    secret = bytearray()
    for position in range(length - 1):
        value = 0
        for share, weight in zip(shares, weights, strict=True):
            value ^= _mul(share[position], weight)
        secret.append(value)
    return bytes(secret)


def _lagrange_weight(xs: list[int], i: int) -> int:
    """The basis polynomial l_i evaluated at 0: prod x_j / (x_j - x_i); minus is xor here."""
    weight = 1
    for j, xj in enumerate(xs):
        if j != i:
            weight = _mul(weight, _mul(xj, _inverse(xj ^ xs[i])))
    return weight
