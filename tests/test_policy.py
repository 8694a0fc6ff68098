"""policy.allowed_hosts: credentials only ever go to hosts a pattern was meant to allow."""

from __future__ import annotations

import pytest

from rtssync.policy import host_allowed

RTS = ("*.rtsfinancial.com",)


@pytest.mark.parametrize(
    "host",
    [
        "ftp.rtsfinancial.com",
        "devftp.rtsfinancial.com",
        "FTP.RtsFinancial.COM",
        "ftp.rtsfinancial.com.",
        " ftp.rtsfinancial.com ",
        "a.b.rtsfinancial.com",
    ],
)
def test_the_default_pattern_allows_rts_hosts(host: str) -> None:
    assert host_allowed(host, RTS)


@pytest.mark.parametrize(
    "host",
    [
        "rtsfinancial.com",
        "rtsfinancial.com.evil.com",
        "ftp.rtsfinancial.com.evil.com",
        "evilrtsfinancial.com",
        "ftp.rtsfinancial.co",
        "ftp.rtsfinancial.com..",
        ".rtsfinancial.com",
        "evil.com/.rtsfinancial.com",
        "evil.com#.rtsfinancial.com",
        "user@x.rtsfinancial.com",
        "evil.com .rtsfinancial.com",
        "evil.com:21.rtsfinancial.com",
        "",
        "127.0.0.1",
        "::1",
    ],
)
def test_the_default_pattern_refuses_everything_else(host: str) -> None:
    assert not host_allowed(host, RTS)


def test_an_exact_name_matches_only_itself() -> None:
    assert host_allowed("ftp.example.com", ["ftp.example.com"])
    assert host_allowed("ftp.example.com", ["FTP.Example.Com."])
    assert not host_allowed("x.ftp.example.com", ["ftp.example.com"])


def test_international_names_compare_in_their_ascii_form() -> None:
    assert host_allowed("ftp.bücher.example", ["*.xn--bcher-kva.example"])
    assert host_allowed("ftp.xn--bcher-kva.example", ["*.bücher.example"])


def test_ip_literals_match_only_addresses_and_networks() -> None:
    assert host_allowed("127.0.0.1", ["127.0.0.1"])
    assert host_allowed("192.0.2.7", ["192.0.2.0/24"])
    assert host_allowed("[2001:db8::1]", ["2001:db8::/32"])
    assert host_allowed("2001:db8::1", ["[2001:db8:0::1]"])
    assert not host_allowed("192.0.2.7", ["192.0.2.*"])
    assert not host_allowed("192.0.2.7", ["*.7"])
    assert not host_allowed("::ffff:127.0.0.1", ["127.0.0.1"])


@pytest.mark.parametrize("host", ["127.1", "0x7f.0.0.1", "2130706433", "127.0.0.1."])
def test_shorthand_ipv4_forms_are_neither_names_nor_addresses(host: str) -> None:
    assert not host_allowed(host, ["127.0.0.1", "*.1", "*"])


def test_a_lone_star_allows_any_valid_host_but_not_garbage() -> None:
    assert host_allowed("anything.example", ["*"])
    assert host_allowed("10.1.2.3", ["*"])
    assert not host_allowed("bad host", ["*"])


def test_no_patterns_allow_nothing() -> None:
    assert not host_allowed("ftp.rtsfinancial.com", [])
    assert not host_allowed("ftp.rtsfinancial.com", ["", "  "])
