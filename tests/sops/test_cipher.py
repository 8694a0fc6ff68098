"""One value: typed round trip, Go's formatting of plain values, and AAD binding."""

from __future__ import annotations

import base64
import datetime as dt
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rtssync.sops.cipher import (
    CipherError,
    Comment,
    decrypt_value,
    encrypt_value,
    go_format_float,
    go_format_time,
    to_bytes,
)

KEY = os.urandom(32)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("text ünï", "str"),
        (42, "int"),
        (-7, "int"),
        (0.25, "float"),
        (1e20, "float"),
        (True, "bool"),
        (False, "bool"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "time"),
        (Comment(" a comment"), "comment"),
    ],
)
def test_every_type_round_trips(value: object, kind: str) -> None:
    ciphertext = encrypt_value(value, KEY, "a:b:")  # type: ignore[arg-type]
    assert ciphertext.startswith("ENC[AES256_GCM,data:")
    assert ciphertext.endswith(f",type:{kind}]")
    back = decrypt_value(ciphertext, KEY, "a:b:")
    assert back == value
    assert type(back) is type(value)


def test_the_iv_is_32_bytes_and_random() -> None:
    first, second = encrypt_value("same", KEY, "k:"), encrypt_value("same", KEY, "k:")
    assert first != second
    iv = first.split(",iv:")[1].split(",")[0]
    assert len(iv) == 44  # base64 of 32 bytes


def test_a_value_moved_to_another_key_does_not_decrypt() -> None:
    ciphertext = encrypt_value("secret", KEY, "factoring:ftp:password:")
    with pytest.raises(CipherError, match="authentication failed"):
        decrypt_value(ciphertext, KEY, "factoring:ftp:username:")


def test_a_wrong_key_does_not_decrypt() -> None:
    ciphertext = encrypt_value("secret", KEY, "k:")
    with pytest.raises(CipherError):
        decrypt_value(ciphertext, os.urandom(32), "k:")


def test_empty_strings_stay_empty_like_sops() -> None:
    assert encrypt_value("", KEY, "k:") == ""
    assert decrypt_value("", KEY, "k:") == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.25, "0.25"),
        (1.5e-7, "0.00000015"),
        (1e20, "100000000000000000000"),
        (-2.5, "-2.5"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_floats_are_written_as_go_writes_them(value: float, text: str) -> None:
    assert go_format_float(value) == text


def test_times_and_bools_are_written_as_go_writes_them() -> None:
    assert go_format_time(dt.datetime(2024, 1, 2, tzinfo=dt.UTC)) == "2024-01-02T00:00:00Z"
    assert go_format_time(dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=dt.UTC)) == (
        "2024-01-02T03:04:05.5Z"
    )
    offset = dt.timezone(dt.timedelta(hours=-5, minutes=-30))
    assert go_format_time(dt.datetime(2024, 1, 2, tzinfo=offset)) == "2024-01-02T00:00:00-05:30"
    assert to_bytes(True) == b"True"
    assert to_bytes(False) == b"False"


def test_malformed_values_are_errors_without_the_input() -> None:
    for bad in ("not enc", "ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]"):
        with pytest.raises(CipherError):
            decrypt_value(bad, KEY, "k:")


def test_go_nanosecond_times_decrypt() -> None:
    iv = os.urandom(32)
    sealed = AESGCM(KEY).encrypt(iv, b"2024-01-02T03:04:05.123456789Z", b"t:")
    b64 = base64.b64encode
    ciphertext = (
        f"ENC[AES256_GCM,data:{b64(sealed[:-16]).decode()},iv:{b64(iv).decode()},"
        f"tag:{b64(sealed[-16:]).decode()},type:time]"
    )
    assert decrypt_value(ciphertext, KEY, "t:") == dt.datetime(
        2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC
    )
