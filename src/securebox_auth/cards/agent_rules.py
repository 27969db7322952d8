"""What the local signing agent accepts, decided without I/O.

:mod:`securebox_auth.cards.token_agent` serves these rules over HTTP on 127.0.0.1:

* :func:`check_request` refuses a request whose ``Host`` is not the agent's own loopback
  address (a page on a rebound DNS name sends its own name: DNS rebinding) or whose
  ``Origin`` is not one of the configured portals (exact match: scheme, host and port);
* :func:`cors_headers` and :func:`preflight_headers` answer only those portals, with the
  Private Network Access opt-in (``Access-Control-Allow-Private-Network``) when the browser
  asks for it;
* :func:`read_payload` decodes a :meth:`~securebox_auth.factors.certificate.CertChallenge.payload`
  so that the user sees which portal, purpose and user the signature is for, and
  :func:`check_audience` refuses a challenge issued for another portal than the page's;
* :func:`problem` builds RFC 9457 problem documents from the typed errors.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final
from urllib.parse import urlsplit

from securebox_auth.errors import ConfigurationError, MalformedInput, SecureboxError

__all__ = [
    "AgentRefusal",
    "AudienceRefused",
    "BodyRefused",
    "BodyTooLarge",
    "ChallengeView",
    "HostRefused",
    "OriginRefused",
    "Portals",
    "check_audience",
    "check_request",
    "cors_headers",
    "digest_of",
    "preflight_headers",
    "problem",
    "read_payload",
]

_DOMAIN: Final = b"securebox/cert-challenge/v1"
_FIELDS: Final = 9
LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost")
#: How long a browser may cache a preflight answer, in seconds.
PREFLIGHT_MAX_AGE: Final = 600


class AgentRefusal(SecureboxError):
    """The agent refuses a request before asking anything of the token or the user."""

    code: ClassVar[str] = "agent_refused"
    status_hint: ClassVar[int] = 403


class HostRefused(AgentRefusal):
    """The ``Host`` header is not the agent's loopback address (DNS rebinding)."""

    code: ClassVar[str] = "agent_host_refused"
    status_hint: ClassVar[int] = 421


class OriginRefused(AgentRefusal):
    """The request has no ``Origin`` or one that is not a configured portal."""

    code: ClassVar[str] = "agent_origin_refused"


class AudienceRefused(AgentRefusal):
    """The challenge was issued for another portal than the page that sent it."""

    code: ClassVar[str] = "agent_audience_refused"


class BodyRefused(AgentRefusal):
    """The body is missing, too large, not JSON, or not ``{"challenge": TEXT}``."""

    code: ClassVar[str] = "agent_body_refused"
    status_hint: ClassVar[int] = 400


class BodyTooLarge(BodyRefused):
    """The body is larger than the agent reads."""

    code: ClassVar[str] = "agent_body_too_large"
    status_hint: ClassVar[int] = 413


def _origin(text: str) -> str:
    """``text`` as a serialised origin (``scheme://host[:port]``), or ConfigurationError."""
    parts = urlsplit(text)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
        or text != text.strip()
    ):
        raise ConfigurationError(f"not an origin (scheme://host[:port]): {text!r}")
    return text.rstrip("/").lower()


@dataclass(frozen=True, slots=True)
class Portals:
    """The portal origins allowed to call the agent, each with the audience its challenges
    carry (by default the origin itself: the portal's ``Securebox`` issuer)."""

    audiences: Mapping[str, str]

    @classmethod
    def parse(cls, specs: list[str]) -> Portals:
        """From ``ORIGIN`` or ``ORIGIN=AUDIENCE`` items (``--origin``)."""
        if not specs:
            raise ConfigurationError("name at least one portal origin (--origin)")
        audiences: dict[str, str] = {}
        for spec in specs:
            origin, sep, audience = spec.partition("=")
            if sep and not audience:
                raise ConfigurationError(f"an empty audience for {origin!r}")
            audiences[_origin(origin)] = audience if sep else _origin(origin)
        return cls(audiences)


def check_request(headers: Mapping[str, str], *, port: int, portals: Portals) -> str:
    """The request's allowed origin; :class:`HostRefused` or :class:`OriginRefused`."""
    host = headers.get("host", "")
    if host not in {f"{name}:{port}" for name in LOOPBACK_NAMES}:
        raise HostRefused("the agent answers on its loopback address only")
    origin = headers.get("origin", "")
    if origin not in portals.audiences:
        raise OriginRefused("this page may not use the signing agent")
    return origin


def cors_headers(origin: str) -> dict[str, str]:
    """Headers of an answer to an allowed origin (never ``*``, never credentials)."""
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight_headers(origin: str, headers: Mapping[str, str]) -> dict[str, str]:
    """The answer to a CORS preflight from an allowed origin; :class:`AgentRefusal` when it
    asks for a method or headers the agent does not take."""
    method = headers.get("access-control-request-method", "")
    if method not in ("GET", "POST"):
        raise AgentRefusal("the agent takes GET and POST only")
    wanted = {
        h.strip().lower()
        for h in headers.get("access-control-request-headers", "").split(",")
        if h.strip()
    }
    if not wanted <= {"content-type"}:
        raise AgentRefusal("the agent takes no other request header than Content-Type")
    answer = {
        **cors_headers(origin),
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
    }
    if headers.get("access-control-request-private-network", "").lower() == "true":
        answer["Access-Control-Allow-Private-Network"] = "true"
    return answer


@dataclass(frozen=True, slots=True)
class ChallengeView:
    """What a challenge payload says, to show the user before asking the PIN."""

    challenge_id: str
    client_id: str
    user_number: str
    purpose: str
    digest: str
    audience: str
    expires_at: str

    def describe(self, origin: str) -> str:
        linked = f" (operation digest {self.digest[:16]}...)" if self.digest else ""
        return (
            f"The page {origin} asks to sign: {self.purpose}{linked}\n"
            f"  for client {self.client_id}, user {self.user_number}, "
            f"portal {self.audience}, valid until {self.expires_at}"
        )


def read_payload(payload: bytes) -> ChallengeView:
    """Decode a challenge payload (length-prefixed fields under the domain tag), or
    :class:`~securebox_auth.errors.MalformedInput`: the agent signs nothing else."""
    fields: list[bytes] = []
    at = 0
    while at < len(payload):
        if at + 2 > len(payload):
            raise MalformedInput("not a securebox certificate challenge")
        (size,) = struct.unpack_from(">H", payload, at)
        fields.append(payload[at + 2 : at + 2 + size])
        at += 2 + size
    if at != len(payload) or len(fields) != _FIELDS or fields[0] != _DOMAIN:
        raise MalformedInput("not a securebox certificate challenge")
    try:
        text = [f.decode("utf-8") for i, f in enumerate(fields) if i not in (0, 7)]
    except UnicodeDecodeError:
        raise MalformedInput("not a securebox certificate challenge") from None
    if any(not t.isprintable() for t in text):
        raise MalformedInput("not a securebox certificate challenge")
    challenge_id, client_id, user_number, purpose, digest, audience, expires_at = text
    return ChallengeView(
        challenge_id, client_id, user_number, purpose, digest, audience, expires_at
    )


def check_audience(view: ChallengeView, origin: str, portals: Portals) -> None:
    """:class:`AudienceRefused` unless the challenge is for the portal of ``origin``."""
    if view.audience != portals.audiences.get(origin):
        raise AudienceRefused("this challenge was issued for another portal")


def digest_of(payload: bytes) -> str:
    """What the agent logs of a challenge: the start of its SHA-256, never its contents."""
    return "sha256:" + hashlib.sha256(payload).hexdigest()[:16]


def problem(error: SecureboxError, *, status: int, **extra: object) -> dict[str, object]:
    """An RFC 9457 problem document with the error's stable ``code``."""
    return {
        "type": f"tag:securebox,2026:problem:{error.code}",
        "title": str(error) or error.code,
        "status": status,
        "code": error.code,
        **extra,
    }
