"""Field comparison: what differs between desired and live, types included."""

from __future__ import annotations

import pytest

from rtssync.diff import PlainValue, changed_keys, only_changed, plain
from rtssync.model import FtpProtocol, FtpSettings


def test_equal_records_have_no_changed_keys() -> None:
    record: dict[str, PlainValue] = {"host": "ftp.rtsfinancial.com", "port": 21, "key": None}
    assert changed_keys(record, dict(record)) == []


def test_a_record_missing_in_the_tms_differs_in_every_key() -> None:
    # A subsidiary created but never given invoicing (apply interrupted right after the
    # create) has {} live; DeepDiff then names no key, which must not read as "equal".
    wanted: dict[str, PlainValue] = {"method": "factoring", "auto_merge": True}
    assert changed_keys({}, wanted) == ["method", "auto_merge"]
    assert changed_keys({"a": 1}, {"b": 1}) == ["b", "a"]


def test_a_changed_type_counts_even_when_python_calls_the_values_equal() -> None:
    assert changed_keys({"port": 21}, {"port": 21.0}) == ["port"]
    assert changed_keys({"auto_merge": 1}, {"auto_merge": True}) == ["auto_merge"]


def test_changed_added_and_removed_keys_are_named_in_the_desired_order() -> None:
    before: dict[str, PlainValue] = {"a": 1, "b": 2, "gone": 3}
    after: dict[str, PlainValue] = {"b": 20, "a": 1, "new": 4}
    assert changed_keys(before, after) == ["b", "new", "gone"]
    assert only_changed(before, after) == ({"b": 2, "new": None, "gone": 3},
                                           {"b": 20, "new": 4, "gone": None})


def test_a_record_flattens_to_plain_values_with_enums_as_text() -> None:
    settings = FtpSettings(FtpProtocol.SFTP, "ftp.rtsfinancial.com", 22, "/in", "ssh-ed25519 AA")
    assert plain(settings) == {"protocol": "sftp", "host": "ftp.rtsfinancial.com", "port": 22,
                               "directory": "/in", "host_key": "ssh-ed25519 AA"}


def test_only_flat_records_flatten() -> None:
    with pytest.raises(TypeError):
        plain({"not": "a record"})
