"""Network facts about a request: the client's address, behind trusted proxies or not."""

from securebox_server.net.client_address import (
    IPAddress,
    TrustedProxies,
    client_address,
    parse_address,
    source_key,
)

__all__ = ["IPAddress", "TrustedProxies", "client_address", "parse_address", "source_key"]
