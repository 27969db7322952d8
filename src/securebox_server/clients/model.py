"""API clients of the box: senders (a bank's back office, an institution publishing
documents) and receivers (a company's service account), their scopes and the OAuth 2.0
errors of the token endpoint (RFC 6749 section 5.2) and of API calls (RFC 6750 section 3.1).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final

from securebox_auth.errors import SecureboxError
from securebox_auth.identity import ClientId, Principal, Siren

__all__ = [
    "RECEIVER_SCOPES",
    "SENDER_SCOPES",
    "ApiClient",
    "Caller",
    "ClientKind",
    "ClientStatus",
    "InsufficientScope",
    "InvalidToken",
    "OAuthError",
    "scopes_of",
]

SENDER_SCOPES: Final = frozenset({"documents:publish", "documents:status"})
RECEIVER_SCOPES: Final = frozenset({"documents:read", "events:read", "documents:mark-read"})


class ClientKind(enum.StrEnum):
    SENDER = "sender"
    RECEIVER = "receiver"


class ClientStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


def scopes_of(kind: ClientKind) -> frozenset[str]:
    """Every scope a client of ``kind`` may be granted."""
    return SENDER_SCOPES if kind is ClientKind.SENDER else RECEIVER_SCOPES


@dataclass(frozen=True, slots=True)
class ApiClient:
    """One registered client (a row of ``api_clients``).

    A sender has a ``sender`` id (the one box tables name); a receiver has the
    subscription it reads (``subscription``), the companies it was given and the library
    account (``principal``) whose entitlements decide what it sees."""

    client_id: str
    kind: ClientKind
    name: str
    scopes: frozenset[str]
    status: ClientStatus
    created_at: datetime
    sender: str | None = None
    subscription: ClientId | None = None
    principal: Principal | None = None
    companies: tuple[Siren, ...] = ()
    #: The public keys of ``private_key_jwt`` (a JWKS document), if any.
    jwks: dict[str, object] | None = None
    #: SHA-256 of the DER certificate of ``tls_client_auth`` (base64url), if any.
    certificate_sha256: str | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status is ClientStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls an API route: the client behind a valid access token, and its scopes."""

    client: ApiClient
    scopes: frozenset[str]
    #: The certificate thumbprint the token is bound to (RFC 8705 ``cnf.x5t#S256``).
    bound_to: str | None
    expires_at: datetime

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def sender(self) -> str | None:
        return self.client.sender

    @property
    def principal(self) -> Principal | None:
        return self.client.principal


class OAuthError(SecureboxError):
    """An error of the token endpoint: ``error`` is the RFC 6749 section 5.2 code."""

    code: ClassVar[str] = "oauth_error"
    status_hint: ClassVar[int] = 400

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    @classmethod
    def client(cls, description: str = "client authentication failed") -> OAuthError:
        return cls("invalid_client", description, 401)

    @classmethod
    def request(cls, description: str) -> OAuthError:
        return cls("invalid_request", description)


class InvalidToken(SecureboxError):
    """A missing, unknown, expired or revoked access token, or one used without the
    certificate it is bound to (RFC 6750 ``invalid_token``, 401)."""

    code: ClassVar[str] = "invalid_token"
    status_hint: ClassVar[int] = 401


class InsufficientScope(SecureboxError):
    """A valid token without the scope a route needs (RFC 6750, 403)."""

    code: ClassVar[str] = "insufficient_scope"
    status_hint: ClassVar[int] = 403
