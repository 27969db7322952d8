"""The client certificate of a mutual-TLS connection, forwarded by a trusted reverse proxy.

When TLS ends at nginx (``ssl_verify_client``), the application sees the client certificate
only as a header nginx sets from ``$ssl_client_escaped_cert`` (the URL-escaped PEM). Anyone
who reaches the application directly can send that header too, so it is believed **only**
when the connection's direct peer address is in :attr:`ForwardedSettings.trusted_proxies`;
from any other peer it is ignored (and reported as such, for the log). The proxy must set
the header itself on every request, so that a value a client sends is replaced or dropped
(``docs/deploy/nginx-mtls.conf``).

Pure: the caller passes the peer address (ASGI ``scope["client"][0]``, ``None`` for a Unix
socket) and the request headers; the certificate returned still has to be checked with
:func:`securebox_auth.factors.certificate.verify_presented_certificate` (chain, revocation,
enrolment). Reuses :func:`securebox_auth.factors.certificate.certificate_from_proxy`: the
proxy's identity is the trusted network its address is in.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Final

from cryptography import x509

from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.factors.certificate import ProxyTrust, certificate_from_proxy

__all__ = [
    "DEFAULT_HEADER",
    "Forwarded",
    "ForwardedCertificateInvalid",
    "ForwardedSettings",
    "Source",
    "forwarded_certificate",
    "parse_networks",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: The header of the example nginx configuration.
DEFAULT_HEADER: Final = "X-SSL-Client-Cert"
#: The longest header value read: an escaped PEM certificate of a few kilobytes.
MAX_HEADER: Final = 16384


class ForwardedCertificateInvalid(MalformedInput):
    """A trusted proxy forwarded a header that is not one certificate (repeated, too long,
    or not a certificate): a misconfigured proxy, never the user's fault."""

    code: ClassVar[str] = "forwarded_certificate_invalid"
    status_hint: ClassVar[int] = 400


def parse_networks(specs: Iterable[str]) -> tuple[Network, ...]:
    """``["127.0.0.1", "10.0.0.0/24", "::1"]`` as networks (an address is a /32 or /128);
    :class:`~securebox_auth.errors.ConfigurationError` for anything else."""
    networks: list[Network] = []
    for spec in specs:
        try:
            networks.append(ipaddress.ip_network(spec.strip(), strict=True))
        except ValueError:
            raise ConfigurationError(f"not an IP address or network: {spec!r}") from None
    return tuple(networks)


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardedSettings:
    """Whose forwarded certificate is believed, and in which header."""

    #: Direct peers allowed to forward a certificate. Empty (the default): nobody.
    trusted_proxies: tuple[Network, ...] = ()
    header: str = DEFAULT_HEADER
    #: Believe a peer on a Unix socket (no address): only when the socket is the proxy's.
    trust_unix_socket: bool = False
    _identities: ProxyTrust = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.header or not self.header.replace("-", "").isalnum():
            raise ConfigurationError("the certificate header is a plain header name")
        names = frozenset(str(n) for n in self.trusted_proxies) | {"unix"}
        object.__setattr__(self, "_identities", ProxyTrust(proxies=names))

    def identity(self, peer: str | None) -> str | None:
        """The trusted network (or ``"unix"``) ``peer`` belongs to, or ``None``."""
        if peer is None:
            return "unix" if self.trust_unix_socket else None
        try:
            address = ipaddress.ip_address(peer.split("%")[0])
        except ValueError:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        for network in self.trusted_proxies:
            if address in network:
                return str(network)
        return None


class Source(enum.Enum):
    """Where the result came from."""

    #: A trusted proxy forwarded the certificate.
    PROXY = "proxy"
    #: A trusted proxy forwarded no certificate (the client offered none).
    NONE = "none"
    #: The header came from a peer that is not a trusted proxy: ignored (log it).
    IGNORED = "ignored"
    #: Neither a trusted proxy nor a header.
    DIRECT = "direct"


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The certificate to believe (``None`` unless ``source`` is :attr:`Source.PROXY`)."""

    certificate: x509.Certificate | None
    source: Source


def forwarded_certificate(
    peer: str | None,
    headers: Iterable[tuple[str, str]],
    settings: ForwardedSettings,
) -> Forwarded:
    """The client certificate of this request, as the trusted proxy forwarded it.

    ``headers`` are the request's (name, value) pairs, names in any case. A header from an
    untrusted peer is ignored (:attr:`Source.IGNORED`), never parsed. From a trusted proxy,
    a missing or empty header means no certificate; a repeated, oversized or unreadable one
    raises :class:`ForwardedCertificateInvalid`."""
    wanted = settings.header.lower()
    values = [value for name, value in headers if name.lower() == wanted]
    identity = settings.identity(peer)
    if identity is None:
        return Forwarded(None, Source.IGNORED if values else Source.DIRECT)
    if len(values) > 1:
        raise ForwardedCertificateInvalid("the proxy sent the certificate header twice")
    value = values[0].strip() if values else ""
    if not value:
        return Forwarded(None, Source.NONE)
    if len(value) > MAX_HEADER:
        raise ForwardedCertificateInvalid("the forwarded certificate is too long")
    try:
        certificate = certificate_from_proxy(
            value, proxy_identity=identity, proxy_trust=settings._identities
        )
    except MalformedInput:
        raise ForwardedCertificateInvalid("the forwarded header is not a certificate") from None
    return Forwarded(certificate, Source.PROXY)
