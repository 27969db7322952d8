"""The client's address: the direct peer unless it is a trusted proxy, then the rightmost
untrusted hop of ``X-Forwarded-For`` or ``Forwarded`` (RFC 7239); the IPv6 /64 as the
rate-limit source. Properties with hypothesis, and the cases proxies really send."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_server.net.client_address import (
    MAX_HOPS,
    IPAddress,
    TrustedProxies,
    client_address,
    forwarded_hops,
    parse_address,
    source_key,
)

PROXIES = TrustedProxies.parse(["10.0.0.0/8", "fd00::/8"])
FORWARDED = TrustedProxies.parse(["10.0.0.0/8", "fd00::/8"], header="Forwarded")
PROXY = "10.1.2.3"

addresses = st.ip_addresses()
untrusted = addresses.filter(
    lambda a: (
        not PROXIES.trusts(a) and not (isinstance(a, IPv6Address) and a.ipv4_mapped is not None)
    )
)
proxy_hops = st.one_of(st.ip_addresses(network="10.0.0.0/8"), st.ip_addresses(network="fd00::/8"))


def _hop(address: IPAddress, port: int | None = None) -> str:
    if isinstance(address, IPv6Address):
        return f"[{address}]:{port}" if port is not None else str(address)
    return f"{address}:{port}" if port is not None else str(address)


@given(addresses, st.none() | st.integers(0, 65535))
def test_every_address_parses_back_with_or_without_a_port(
    address: IPAddress, port: int | None
) -> None:
    expected = address.ipv4_mapped if isinstance(address, IPv6Address) else None
    assert parse_address(_hop(address, port)) == (expected or address)
    if isinstance(address, IPv6Address):
        assert parse_address(f"[{address}]") == (expected or address)


@given(st.text(max_size=80))
def test_parsing_never_raises(text: str) -> None:
    parsed = parse_address(text)
    assert parsed is None or isinstance(parsed, IPv4Address | IPv6Address)


@pytest.mark.parametrize(
    "text",
    ["", "unknown", "_hidden", "fe80::1%eth0", "[::1", "[::1]x", "1.2.3.4:http", "1.2.3", "[::1]:"],
)
def test_what_is_not_an_address(text: str) -> None:
    assert parse_address(text) is None


@given(untrusted, st.lists(st.text(max_size=20), max_size=5))
def test_an_untrusted_peer_is_the_client_whatever_it_says(
    peer: IPAddress, claimed: list[str]
) -> None:
    headers = [("X-Forwarded-For", ", ".join(claimed)), ("Forwarded", "for=10.9.9.9")]
    assert client_address(str(peer), headers, PROXIES) == peer
    assert client_address(str(peer), headers, FORWARDED) == peer


@given(
    st.lists(st.text(max_size=20), max_size=4),
    untrusted,
    st.lists(proxy_hops, max_size=4),
    proxy_hops,
)
def test_the_rightmost_untrusted_hop_is_the_client(
    forged: list[str], client: IPAddress, chain: list[IPAddress], peer: IPAddress
) -> None:
    """Whatever the client wrote on the left, the proxies' own hops lead to it."""
    hops = [*forged, str(client), *(str(h) for h in chain)]
    headers = [("x-forwarded-for", ", ".join(hops))]
    assert client_address(str(peer), headers, PROXIES) == client
    elements = ", ".join(f'for="{_hop(ip_address(h), 443)}"' for h in hops[len(forged) :])
    assert client_address(str(peer), [("forwarded", elements)], FORWARDED) == client


@given(st.lists(st.tuples(st.text(max_size=15), st.text(max_size=60)), max_size=6), proxy_hops)
def test_any_headers_from_a_trusted_peer_give_an_address(
    headers: list[tuple[str, str]], peer: IPAddress
) -> None:
    for proxies in (PROXIES, FORWARDED):
        assert isinstance(client_address(str(peer), headers, proxies), IPv4Address | IPv6Address)


def test_header_lines_join_in_order_and_names_are_case_insensitive() -> None:
    headers = [("X-Forwarded-For", "198.51.100.1, 203.0.113.5"), ("X-FORWARDED-FOR", "10.0.0.2")]
    assert forwarded_hops(headers, "x-forwarded-for") == ["198.51.100.1", "203.0.113.5", "10.0.0.2"]
    assert client_address(PROXY, headers, PROXIES) == ip_address("203.0.113.5")


def test_forwarded_elements_rfc_7239() -> None:
    value = (
        'for=198.51.100.17;proto=https, For="[2001:db8:cafe::17]:4711";by=10.0.0.1, '
        'for="10.0.0.9";host="a,b"'
    )
    assert forwarded_hops([("Forwarded", value)], "forwarded") == [
        "198.51.100.17",
        "[2001:db8:cafe::17]:4711",
        "10.0.0.9",
    ]
    assert client_address(PROXY, [("forwarded", value)], FORWARDED) == ip_address(
        "2001:db8:cafe::17"
    )


def test_an_unparsable_hop_stops_at_the_proxy_that_passed_it() -> None:
    for value in ("for=unknown", "for=_hidden", "proto=https"):
        assert client_address(PROXY, [("forwarded", value)], FORWARDED) == ip_address(PROXY)
    headers = [("x-forwarded-for", "203.0.113.5, garbage, 10.0.0.7")]
    assert client_address(PROXY, headers, PROXIES) == ip_address("10.0.0.7")


def test_only_proxies_all_the_way_gives_the_leftmost_and_long_chains_are_cut() -> None:
    assert client_address(PROXY, [("x-forwarded-for", "10.0.0.1, 10.0.0.2")], PROXIES) == (
        ip_address("10.0.0.1")
    )
    chain = ", ".join(["203.0.113.1"] + [f"10.0.{n // 250}.{n % 250}" for n in range(MAX_HOPS)])
    assert client_address(PROXY, [("x-forwarded-for", chain)], PROXIES) == ip_address("10.0.0.0")


def test_the_peer_must_be_an_address() -> None:
    for peer in ("", "unix:/run/sock", "localhost"):
        with pytest.raises(MalformedInput):
            client_address(peer, [], PROXIES)


def test_trusted_proxies_configuration() -> None:
    assert TrustedProxies.parse([]).trusts(ip_address("10.0.0.1")) is False
    for bad in (["10.0.0.1/8"], ["nginx"], [""]):
        with pytest.raises(ConfigurationError):
            TrustedProxies.parse(bad)
    with pytest.raises(ConfigurationError):
        TrustedProxies.parse([], header="x-real-ip")


@given(st.ip_addresses(v=6, network="2001:db8:1:2::/64"), st.ip_addresses(v=6))
def test_ipv6_sources_aggregate_by_64(address: IPv6Address, other: IPv6Address) -> None:
    assert source_key(address) == "2001:db8:1:2::/64"
    same = other.exploded[:19] == address.exploded[:19]
    if other.ipv4_mapped is None:
        assert (source_key(other) == source_key(address)) == same


@given(st.ip_addresses(v=4))
def test_ipv4_sources_are_the_address_mapped_or_not(address: IPv4Address) -> None:
    assert source_key(address) == str(address)
    assert source_key(IPv6Address(f"::ffff:{address}")) == str(address)
    with pytest.raises(ConfigurationError):
        source_key(IPv6Address("2001:db8::1"), ipv6_prefix=129)
