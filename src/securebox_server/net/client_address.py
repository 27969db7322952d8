"""The client's address: the direct peer, or what trusted proxies say it was.

A proxy appends the address it received a request from to ``X-Forwarded-For`` (or adds a
``Forwarded: for=...`` element, RFC 7239), so the list reads left to right from the client
to the last proxy, and everything left of what *our* proxies wrote is whatever the client
chose to send. So the client is the **rightmost untrusted hop**: start from the direct peer;
while the current address is a configured trusted proxy, step one hop left. The header is
read only when the peer itself is trusted, and a hop that does not parse (``unknown``, an
obfuscated ``_name``, garbage) stops the walk at the trusted proxy that passed it on.

Rate limits key sources with :func:`source_key`: an IPv4 address as it is, an IPv6 address
by its /64 (one customer line usually gets a whole /64, so one attacker has 2**64
addresses), an IPv4-mapped IPv6 address as its IPv4 address.

Everything here is pure: strings in, addresses out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Final, Literal

from securebox_auth.errors import ConfigurationError, MalformedInput

__all__ = [
    "MAX_HOPS",
    "ForwardingHeader",
    "IPAddress",
    "TrustedProxies",
    "client_address",
    "forwarded_hops",
    "parse_address",
    "source_key",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
ForwardingHeader = Literal["x-forwarded-for", "forwarded"]
#: Hops examined at most (a longer chain is cut on its left, the part clients write).
MAX_HOPS: Final = 32


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The proxies whose forwarding header is believed, and which header they write."""

    networks: tuple[IPNetwork, ...] = ()
    header: ForwardingHeader = "x-forwarded-for"

    @classmethod
    def parse(cls, networks: Iterable[str], header: str = "x-forwarded-for") -> TrustedProxies:
        """From settings: addresses or networks (``"10.0.0.0/8"``, ``"::1"``)."""
        parsed: list[IPNetwork] = []
        for text in networks:
            try:
                parsed.append(ip_network(str(text).strip(), strict=True))
            except ValueError:
                raise ConfigurationError(
                    f"trusted proxy {text!r} is not an address or network"
                ) from None
        name = str(header).strip().lower()
        if name == "x-forwarded-for":
            return cls(tuple(parsed), "x-forwarded-for")
        if name == "forwarded":
            return cls(tuple(parsed), "forwarded")
        raise ConfigurationError("the forwarding header is x-forwarded-for or forwarded")

    def trusts(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(text: str) -> IPAddress | None:
    """An address from a peer or a hop: ``192.0.2.1``, ``192.0.2.1:443``, ``2001:db8::1``,
    ``[2001:db8::1]`` or ``[2001:db8::1]:443``; ``None`` for anything else (zone ids
    included). IPv4-mapped IPv6 addresses come back as IPv4."""
    text = text.strip()
    if not text or len(text) > 64:
        return None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        text = host
    elif text.count(":") == 1:  # IPv4 with a port
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
        text = host
    if "%" in text:
        return None
    try:
        return _unmapped(ip_address(text))
    except ValueError:
        return None


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _forwarded_for(element: str) -> str:
    """The ``for`` parameter of one RFC 7239 element (unquoted), or ``""``."""
    for pair in _split_outside_quotes(element, ";"):
        name, equals, value = pair.strip().partition("=")
        if equals and name.strip().lower() == "for":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            return value
    return ""


def forwarded_hops(headers: Iterable[tuple[str, str]], header: ForwardingHeader) -> list[str]:
    """The hops of ``header`` (every line, in order), left to right, as written."""
    hops: list[str] = []
    for name, value in headers:
        if name.strip().lower() != header:
            continue
        if header == "x-forwarded-for":
            hops.extend(part.strip() for part in value.split(","))
        else:
            hops.extend(_forwarded_for(part) for part in _split_outside_quotes(value, ","))
    return hops


def client_address(
    peer: str, headers: Iterable[tuple[str, str]], proxies: TrustedProxies
) -> IPAddress:
    """The client's address for a request from ``peer`` carrying ``headers``."""
    address = parse_address(peer)
    if address is None:
        raise MalformedInput("the peer address is not an IP address")
    if not proxies.trusts(address):
        return address
    hops = forwarded_hops(headers, proxies.header)[-MAX_HOPS:]
    for text in reversed(hops):
        hop = parse_address(text)
        if hop is None:
            return address  # the trusted proxy that passed this hop on
        address = hop
        if not proxies.trusts(address):
            return address
    return address


def source_key(address: IPAddress, ipv6_prefix: int = 64) -> str:
    """The rate-limit key of a source: IPv4 as is, IPv6 by its ``/ipv6_prefix`` network."""
    address = _unmapped(address)
    if isinstance(address, IPv4Address):
        return str(address)
    if not 0 <= ipv6_prefix <= 128:
        raise ConfigurationError("the IPv6 prefix length is between 0 and 128")
    return str(IPv6Network((address, ipv6_prefix), strict=False))
