"""Where credentials may be sent: ``policy.allowed_hosts`` (DESIGN §2.3, §6).

Both ``verify`` (before it opens any connection) and the plan engine (before it hands a host to
the TMS) ask :func:`host_allowed`, so the two can never disagree about what "allowed" means.

Matching rules, chosen so that a pattern cannot be stretched to a host its author did not mean:

- host names and patterns are compared case-insensitively, with one trailing dot removed
  (``ftp.rtsfinancial.com.`` is the same name as ``ftp.rtsfinancial.com``) and international
  names turned into their ASCII (punycode) form;
- patterns are ``fnmatch`` globs (``*``, ``?``, ``[...]``) over the whole name, so
  ``*.rtsfinancial.com`` allows ``ftp.rtsfinancial.com`` and ``a.b.rtsfinancial.com`` but neither
  ``rtsfinancial.com`` nor ``rtsfinancial.com.evil.com``;
- a host that is not a syntactically valid DNS name (empty labels, spaces, ``@``, ``/``, ``:``...)
  is never allowed, so odd strings cannot smuggle a second host past a glob;
- a name the resolver would read as an IPv4 address (``127.1``, ``0x7f.0.0.1``) is not a name;
- an IP literal (``192.0.2.7``, ``2001:db8::1``, ``[2001:db8::1]``) is only allowed by a pattern
  that is the same address or a network containing it (``192.0.2.0/24``); name globs never match
  addresses. A lone ``*`` allows everything and is the only way to allow any address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from fnmatch import fnmatchcase

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# A last label like these makes the resolver read the whole name as an IPv4 address in one of
# inet_aton's shorthand forms ("127.1", "0x7f.0.0.1"); real top-level domains are never numeric.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    """True when ``host`` matches one of ``allowed_hosts`` (rules in the module docstring)."""
    patterns = [p.strip() for p in allowed_hosts if p.strip()]
    address = parse_ip(host)
    name = None if address is not None else normalize_host_name(host)
    if address is None and name is None:
        return False
    if "*" in patterns:
        return True
    if address is not None:
        return any(_address_matches(address, pattern) for pattern in patterns)
    assert name is not None
    return any(_name_matches(name, pattern) for pattern in patterns)


def parse_ip(host: str) -> IpAddress | None:
    """The address when ``host`` is an IP literal (IPv6 optionally in brackets), else None."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def normalize_host_name(host: str) -> str | None:
    """The comparable form of a DNS name, or None when it is not a valid one."""
    name = host.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    if not name or len(name) > 253:
        return None
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = name.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        return None
    if all(_LABEL.match(label) for label in labels):
        return name
    return None


def _name_matches(name: str, pattern: str) -> bool:
    normalized = pattern.strip().lower().rstrip(".")
    if not normalized.isascii():
        try:
            normalized = normalized.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    return fnmatchcase(name, normalized)


def _address_matches(address: IpAddress, pattern: str) -> bool:
    text = pattern.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network
