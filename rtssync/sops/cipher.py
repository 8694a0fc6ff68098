"""One SOPS value: ``ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]`` (sops ``aes/cipher.go``).

AES-256-GCM with the file's 32-byte data key and a random 32-byte IV; the AAD binds the value to
its place in the document, so two swapped ciphertexts fail to decrypt. Plain values are turned
into bytes exactly as sops does (Go's formatting), because those bytes also feed the MAC.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import os
import re
from decimal import Decimal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_ENC = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]\Z", re.DOTALL)
_TAG_SIZE = 16
_IV_SIZE = 32

Scalar = str | int | float | bool | dt.datetime


class CipherError(Exception):
    """A value cannot be decrypted. Messages never contain plaintext."""


class Comment(str):
    """A comment that sops stored as an encrypted value (``type:comment``)."""

    __slots__ = ()


def is_encrypted(value: object) -> bool:
    """Whether ``value`` is a sops ciphertext string."""
    return isinstance(value, str) and value.startswith("ENC[AES256_GCM,")


def value_type(value: Scalar | Comment) -> str:
    """The sops ``type:`` name of a plain value."""
    if isinstance(value, Comment):
        return "comment"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime | dt.date):
        return "time"
    if isinstance(value, str):
        return "str"
    raise CipherError(f"cannot encrypt a value of type {type(value).__name__}")


def to_bytes(value: Scalar | Comment | dt.date) -> bytes:
    """The bytes sops encrypts and hashes for a plain value (sops ``ToBytes``)."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return go_format_float(value).encode()
    if isinstance(value, dt.datetime | dt.date):
        return go_format_time(value).encode()
    if isinstance(value, str):
        return value.encode("utf-8")
    raise CipherError(f"cannot encode a value of type {type(value).__name__}")


def go_format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def go_format_time(value: dt.datetime | dt.date) -> str:
    """Go's ``time.MarshalText`` (RFC 3339 with nanoseconds, trailing zeros dropped)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += ("." + f"{value.microsecond:06d}").rstrip("0")
    offset = value.utcoffset() or dt.timedelta(0)
    if offset == dt.timedelta(0):
        return text + "Z"
    sign = "+" if offset > dt.timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def encrypt_value(value: Scalar | Comment, key: bytes, aad: str) -> str:
    """Encrypt one plain value for the place ``aad`` names. Empty strings stay empty (sops)."""
    if isinstance(value, str) and not isinstance(value, Comment) and value == "":
        return ""
    kind = value_type(value)
    iv = os.urandom(_IV_SIZE)
    sealed = AESGCM(key).encrypt(iv, to_bytes(value), aad.encode("utf-8"))
    data, tag = sealed[:-_TAG_SIZE], sealed[-_TAG_SIZE:]
    return f"ENC[AES256_GCM,data:{_b64(data)},iv:{_b64(iv)},tag:{_b64(tag)},type:{kind}]"


def decrypt_value(ciphertext: str, key: bytes, aad: str, aead: AESGCM | None = None) -> Scalar:
    """Decrypt one value and give it back with its original type.

    ``aead`` lets a caller reuse one cipher object for a whole file (speed).
    """
    if ciphertext == "":
        return ""
    match = _ENC.match(ciphertext)
    if match is None:
        raise CipherError("not a sops ENC[AES256_GCM,...] value")
    data, iv, tag, kind = (_unb64(match[1]), _unb64(match[2]), _unb64(match[3]), match[4])
    try:
        plain = (aead or AESGCM(key)).decrypt(iv, data + tag, aad.encode("utf-8"))
    except InvalidTag:
        raise CipherError("authentication failed (changed, moved or foreign ciphertext)") from None
    except ValueError as error:
        raise CipherError(f"malformed ciphertext ({error})") from None
    return _typed(plain, kind)


def _typed(plain: bytes, kind: str) -> Scalar:
    """Turn decrypted bytes back into a value the way sops parses ``type:``."""
    try:
        text = plain.decode("utf-8")
    except UnicodeDecodeError:
        raise CipherError("decrypted value is not UTF-8") from None
    try:
        if kind == "str":
            return text
        if kind == "comment":
            return Comment(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            return _go_parse_bool(text)
        if kind == "time":
            return dt.datetime.fromisoformat(_to_microseconds(text))
    except ValueError:
        raise CipherError(f"decrypted value is not a valid {kind}") from None
    raise CipherError(f"unknown value type {kind!r}")


def _to_microseconds(text: str) -> str:
    """Go writes up to nine fractional digits; Python's datetime keeps six."""
    return re.sub(r"(\.\d{6})\d+", r"\1", text)


def _go_parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(text)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CipherError("ciphertext is not valid base64") from None
