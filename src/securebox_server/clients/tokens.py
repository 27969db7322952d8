"""Access tokens and client ids, pure: generation, the digest kept in the database, the
scopes granted (RFC 6749 section 3.3) and the token response (section 5.1)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Final

from securebox_server.clients.model import ApiClient, ClientKind, OAuthError

__all__ = [
    "MAX_TOKEN",
    "TOKEN_PREFIX",
    "IssuedToken",
    "digest",
    "grant_scopes",
    "new_client_id",
    "new_token",
]

TOKEN_PREFIX: Final = "sbx_at_"  # noqa: S105 - a prefix
MAX_TOKEN: Final = 128
MAX_SCOPE: Final = 400


def new_client_id(kind: ClientKind) -> str:
    """A fresh client id: ``snd_`` or ``rcv_`` and 128 random bits (base64url)."""
    prefix = "snd" if kind is ClientKind.SENDER else "rcv"
    return f"{prefix}_{secrets.token_urlsafe(16)}"


def new_token() -> str:
    """A fresh access token: ``sbx_at_`` and 256 random bits (base64url)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def grant_scopes(client: ApiClient, requested: str | None) -> frozenset[str]:
    """The scopes granted: the client's, or their intersection with ``requested`` (RFC 6749
    section 3.3); ``invalid_scope`` when that is empty."""
    if requested is None or not requested.strip():
        return client.scopes
    if len(requested) > MAX_SCOPE:
        raise OAuthError("invalid_scope", "the scope is too long")
    granted = client.scopes & frozenset(requested.split())
    if not granted:
        raise OAuthError("invalid_scope", "none of the requested scopes may be granted")
    return granted


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str = field(repr=False)
    scopes: frozenset[str]
    expires_in: int
    client_id: str
    #: ``private_key_jwt`` or ``tls_client_auth``.
    method: str

    def body(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(sorted(self.scopes)),
        }
