"""The client's address as a rate-limit source: the socket peer, or the rightmost untrusted
hop of ``X-Forwarded-For`` when the peer is a trusted proxy (settings ``trusted_proxies``),
keyed by :func:`securebox_server.net.client_address.source_key` (IPv4 as is, IPv6 by its /64)."""

from __future__ import annotations

from fastapi import Request

from securebox_auth.errors import MalformedInput
from securebox_server.net.client_address import client_address as address_of
from securebox_server.net.client_address import source_key
from securebox_server.web.context import server_of

__all__ = ["client_address", "source_of"]


def source_of(request: Request) -> str:
    """The rate-limit key of the request's source. A peer that is not an IP address (a
    Unix socket, the test client) is keyed by its name."""
    peer = request.client.host if request.client is not None else "unknown"
    try:
        address = address_of(peer, request.headers.items(), server_of(request).proxies)
    except MalformedInput:
        return peer[:64] or "unknown"
    return source_key(address)


def client_address(request: Request) -> str:
    """Kept for callers of the skeleton's helper: the same as :func:`source_of`."""
    return source_of(request)
