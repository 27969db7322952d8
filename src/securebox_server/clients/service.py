"""``ApiClients``: registration, the token grant and token checks (``Server.clients``).

Decisions are pure (:mod:`.assertion`, :func:`grant_scopes`); this class does the I/O:
the client's row, the single-use ``jti`` and the token's digest (:class:`.store.ClientStore`),
and a receiver's library account (:mod:`.accounts`). ``now`` always comes from the clock.

Access tokens are opaque (``sbx_at_`` and 256 random bits, base64url); only their SHA-256
is stored, and each API call looks the digest up joined to its client: expiry, a revoked
client and the certificate binding are checked on every call (ADR 0032).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.clock import Clock
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Siren, UserNumber
from securebox_auth.stores.protocols import AuthStore
from securebox_server.clients.accounts import close_service_account, open_service_account
from securebox_server.clients.assertion import VerifiedAssertion, verify_client_assertion
from securebox_server.clients.keys import parse_jwks, thumbprint_of_pem
from securebox_server.clients.model import (
    ApiClient,
    Caller,
    ClientKind,
    ClientStatus,
    InsufficientScope,
    InvalidToken,
    OAuthError,
    scopes_of,
)
from securebox_server.clients.store import ClientStore

__all__ = ["TOKEN_PATH", "ApiClients", "IssuedToken", "grant_scopes", "new_client_id"]

TOKEN_PATH: Final = "/api/v1/oauth/token"  # noqa: S105 - a path
TOKEN_PREFIX: Final = "sbx_at_"  # noqa: S105 - a prefix
MAX_TOKEN: Final = 128
MAX_SCOPE: Final = 400


def new_client_id(kind: ClientKind) -> str:
    """A fresh client id: ``snd_`` or ``rcv_`` and 128 random bits (base64url)."""
    prefix = "snd" if kind is ClientKind.SENDER else "rcv"
    return f"{prefix}_{secrets.token_urlsafe(16)}"


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
    access_token: str
    scopes: frozenset[str]
    expires_in: int

    def body(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(sorted(self.scopes)),
        }


class ApiClients:
    """The API clients of one deployment."""

    def __init__(
        self,
        store: ClientStore,
        clock: Clock,
        *,
        origin: str,
        token_lifetime: timedelta = timedelta(minutes=10),
    ) -> None:
        if token_lifetime <= timedelta(0):
            raise MalformedInput("the token lifetime is positive")
        self.store = store
        self.clock = clock
        self.origin = origin.rstrip("/")
        self.token_lifetime = token_lifetime

    @property
    def token_url(self) -> str:
        return self.origin + TOKEN_PATH

    @property
    def audiences(self) -> frozenset[str]:
        """What an assertion's ``aud`` may name: this endpoint's URL or the issuer."""
        return frozenset({self.token_url, self.origin, self.origin + "/"})

    # -- registration (the back office: ``securebox clients``) -------------------------

    def _credentials(
        self, jwks: object | None, certificate_pem: bytes | None
    ) -> tuple[dict[str, object] | None, str | None]:
        if jwks is None and certificate_pem is None:
            raise MalformedInput("a client has a JWKS, a certificate, or both")
        keys = parse_jwks(jwks)[0] if jwks is not None else None
        thumb = thumbprint_of_pem(certificate_pem) if certificate_pem is not None else None
        return keys, thumb

    def add_sender(
        self,
        sender: str,
        name: str,
        *,
        jwks: object | None = None,
        certificate_pem: bytes | None = None,
    ) -> ApiClient:
        if not sender or len(sender) > 64 or not sender.replace("-", "").replace("_", "").isalnum():
            raise MalformedInput("a sender id is 1-64 letters, digits, - or _")
        keys, thumb = self._credentials(jwks, certificate_pem)
        client = ApiClient(
            client_id=new_client_id(ClientKind.SENDER),
            kind=ClientKind.SENDER,
            name=_name(name),
            scopes=scopes_of(ClientKind.SENDER),
            status=ClientStatus.ACTIVE,
            created_at=self.clock.now(),
            sender=sender,
            jwks=keys,
            certificate_sha256=thumb,
        )
        self.store.add(client)
        return client

    def add_receiver(
        self,
        library: AuthStore,
        operator: Operator,
        subscription: ClientId,
        companies: Sequence[Siren],
        name: str,
        *,
        jwks: object | None = None,
        certificate_pem: bytes | None = None,
        user_number: UserNumber | None = None,
    ) -> ApiClient:
        """A receiver and its library account (:mod:`.accounts`), made in that order: an
        account without a client reads nothing (it has no code and no token)."""
        keys, thumb = self._credentials(jwks, certificate_pem)
        now = self.clock.now()
        principal = open_service_account(
            library, operator, subscription, companies, now, user_number=user_number, name=name
        )
        client = ApiClient(
            client_id=new_client_id(ClientKind.RECEIVER),
            kind=ClientKind.RECEIVER,
            name=_name(name),
            scopes=scopes_of(ClientKind.RECEIVER),
            status=ClientStatus.ACTIVE,
            created_at=now,
            subscription=subscription,
            principal=principal,
            companies=tuple(companies),
            jwks=keys,
            certificate_sha256=thumb,
        )
        try:
            self.store.add(client)
        except MalformedInput:  # the certificate is another client's: undo the account
            close_service_account(library, operator, principal, now)
            raise
        return client

    def revoke(
        self, client_id: str, *, library: AuthStore | None = None, operator: Operator | None = None
    ) -> bool:
        """Revoke a client: its tokens stop at once; a receiver's account is disabled."""
        now = self.clock.now()
        before = self.store.revoke(client_id, now)
        if before is None:
            return False
        if before.principal is not None and library is not None and operator is not None:
            close_service_account(library, operator, before.principal, now)
        return True

    # -- the token endpoint --------------------------------------------------------------

    def _issue(
        self,
        client: ApiClient,
        scope: str | None,
        now: datetime,
        *,
        assertion: VerifiedAssertion | None = None,
        bound_to: str | None = None,
    ) -> IssuedToken:
        scopes = grant_scopes(client, scope)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.store.issue(
            client.client_id,
            token_sha256=digest(token),
            scopes=sorted(scopes),
            now=now,
            expires_at=now + self.token_lifetime,
            jti=(assertion.jti, assertion.expires_at) if assertion is not None else None,
            certificate_sha256=bound_to,
        )
        return IssuedToken(token, scopes, int(self.token_lifetime.total_seconds()))

    def token_by_assertion(self, client_id: str, assertion: str, scope: str | None) -> IssuedToken:
        """``private_key_jwt`` (RFC 7523 section 2.2): a token, or :class:`OAuthError`."""
        now = self.clock.now()
        client = self.store.get(client_id)
        verified = verify_client_assertion(assertion, client, client_id, self.audiences, now)
        if client is None or not client.active:
            raise OAuthError.client()
        return self._issue(client, scope, now, assertion=verified)

    def token_by_certificate(
        self, client_id: str, presented: str | None, scope: str | None
    ) -> IssuedToken:
        """``tls_client_auth`` (RFC 8705 section 2.1): the certificate forwarded by the
        trusted proxy (its thumbprint ``presented``) is the client's; the token is bound
        to it (``cnf.x5t#S256``)."""
        now = self.clock.now()
        client = self.store.get(client_id)
        expected = client.certificate_sha256 if client is not None else None
        if (
            client is None
            or presented is None
            or expected is None
            or not hmac.compare_digest(expected.encode(), presented.encode())
            or not client.active
        ):
            raise OAuthError.client()
        return self._issue(client, scope, now, bound_to=presented)

    # -- API calls -----------------------------------------------------------------------

    def authenticate(self, token: str, presented: str | None) -> Caller:
        """The caller behind ``token``; :class:`InvalidToken` when it is unknown, expired,
        of a revoked client, or bound to a certificate other than ``presented``."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN or not token.isascii():
            raise InvalidToken("the access token is not valid")
        found = self.store.token(digest(token))
        now = self.clock.now()
        if found is None or not found.client.active or now >= found.expires_at:
            raise InvalidToken("the access token is not valid")
        bound = found.certificate_sha256
        if bound is not None and (
            presented is None or not hmac.compare_digest(bound.encode(), presented.encode())
        ):
            raise InvalidToken("the access token is bound to another certificate")
        return Caller(found.client, found.scopes, bound, found.expires_at)

    @staticmethod
    def require(caller: Caller, scope: str) -> Caller:
        if scope not in caller.scopes:
            raise InsufficientScope(f"this call needs the scope {scope}")
        return caller


def _name(name: str) -> str:
    text = name.strip()
    if not 0 < len(text) <= 200 or not text.isprintable():
        raise MalformedInput("a client's name is 1-200 printable characters")
    return text
