"""The client's address: the socket peer, or the last ``X-Forwarded-For`` hop when the
peer is a trusted proxy (settings ``trusted_proxies``); used as a rate-limit key."""

from __future__ import annotations

from fastapi import Request

from securebox_server.web.context import server_of

__all__ = ["client_address"]


def client_address(request: Request) -> str:
    peer = request.client.host if request.client is not None else "unknown"
    if peer in server_of(request).settings.trusted_proxies:
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        hops = [h for h in hops if h]
        if hops:
            return hops[-1][:64]
    return peer
