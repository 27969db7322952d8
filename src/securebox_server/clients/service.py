"""``ApiClients``: registration, the token grant and token checks (``Server.clients``).

Decisions are pure (:mod:`.assertion`, :func:`grant_scopes`); this class does the I/O:
the client's row, the single-use ``jti`` and the token's digest (:class:`.store.ClientStore`),
and a receiver's library account (:mod:`.accounts`). ``now`` always comes from the clock.

Access tokens are opaque (``sbx_at_`` and 256 random bits, base64url); only their SHA-256
is stored, and each API call looks the digest up joined to its client: expiry, a revoked
client and the certificate binding are checked on every call (ADR 0032).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.identity import ClientId, Siren, UserNumber
from securebox_auth.stores.protocols import AuthStore
from securebox_server.box.names import forget_sender_names
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
from securebox_server.clients.tokens import (
    MAX_TOKEN,
    TOKEN_PREFIX,
    IssuedToken,
    digest,
    grant_scopes,
    new_client_id,
    new_token,
)

__all__ = ["BACK_OFFICE", "TOKEN_PATH", "ApiClients"]

#: The audit actor of registrations made without a named operator.
BACK_OFFICE: Final = Operator("securebox-back-office")
TOKEN_PATH: Final = "/api/v1/oauth/token"  # noqa: S105 - a path


class ApiClients:
    """The API clients of one deployment."""

    def __init__(
        self,
        store: ClientStore,
        clock: Clock,
        *,
        origin: str,
        token_lifetime: timedelta = timedelta(minutes=10),
        library: AuthStore | None = None,
    ) -> None:
        if token_lifetime <= timedelta(0):
            raise MalformedInput("the token lifetime is positive")
        self.store = store
        self.clock = clock
        self.origin = origin.rstrip("/")
        self.token_lifetime = token_lifetime
        #: The library's store: receivers' accounts, and the audit events of registrations.
        self.library = library

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
        operator: Operator = BACK_OFFICE,
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
        forget_sender_names(self.store.engine)  # pages and digests show the new name at once
        self._audit("api_client.add", operator, client)
        return client

    def add_receiver(
        self,
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
        library = self.library
        if library is None:
            raise ConfigurationError("receivers need the library's store")
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
        self._audit("api_client.add", operator, client)
        return client

    def revoke(self, client_id: str, *, operator: Operator = BACK_OFFICE) -> bool:
        """Revoke a client: its tokens stop at once; a receiver's account is disabled."""
        now = self.clock.now()
        before = self.store.revoke(client_id, now)
        if before is None:
            return False
        if before.principal is not None and self.library is not None:
            close_service_account(self.library, operator, before.principal, now)
        self._audit("api_client.revoke", operator, before)
        return True

    def _audit(self, action: str, operator: Operator, client: ApiClient) -> None:
        """An audit event of a registration or revocation (the library's sealed chains)."""
        if self.library is None:
            return
        details = {"kind": client.kind.value, "name": client.name}
        if client.sender:
            details["sender"] = client.sender
        if client.principal is not None:
            details["account"] = client.principal.key
        event = AuditEvent.make(
            self.clock.now(),
            action,
            actor=operator.key,
            subject=f"api_client:{client.client_id}",
            outcome="success",
            details=details,
        )
        self.library.commit([], [event])

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
        token = new_token()
        self.store.issue(
            client.client_id,
            token_sha256=digest(token),
            scopes=sorted(scopes),
            now=now,
            expires_at=now + self.token_lifetime,
            jti=(assertion.jti, assertion.expires_at) if assertion is not None else None,
            certificate_sha256=bound_to,
        )
        method = "private_key_jwt" if assertion is not None else "tls_client_auth"
        lifetime = int(self.token_lifetime.total_seconds())
        return IssuedToken(token, scopes, lifetime, client.client_id, method)

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
