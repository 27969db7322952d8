"""Register API clients with fresh keys and get tokens through the real endpoint.

For other tests of the box's APIs::

    sender = register_sender(client)                 # a sender "bank" with an ES256 key
    token = get_token(client, sender)                # POST /api/v1/oauth/token
    client.post("/api/v1/...", headers=bearer(token))

    receiver = register_receiver(client, box, companies=[Siren("552100554")])
    # (subscription_with(box, companies) alone: a subscription holding those companies)

``client`` is the app's ``TestClient`` (``make_app``); ``box`` its ``Securebox``. Keys are
made by ``cryptography`` through joserfc: ES256 (P-256), EdDSA (Ed25519), PS256/RS256 (RSA
2048).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.model import Company
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.clients.assertion import ALGORITHMS, REGISTRY
from securebox_server.clients.endpoint import JWT_BEARER
from securebox_server.clients.model import ApiClient
from securebox_server.clients.service import TOKEN_PATH, ApiClients

__all__ = [
    "Registered",
    "assertion",
    "bearer",
    "clients_of",
    "forwarded",
    "get_token",
    "new_key",
    "register_receiver",
    "register_sender",
    "self_signed",
    "subscription_with",
    "token_response",
]

PrivateKey = ECKey | OKPKey | RSAKey


def new_key(alg: str = "ES256", kid: str | None = None) -> tuple[PrivateKey, dict[str, Any]]:
    """A fresh private key for ``alg`` and the public JWKS to register."""
    key: PrivateKey
    if alg == "ES256":
        key = ECKey.generate_key("P-256")
    elif alg in ("EdDSA", "Ed25519"):
        key = OKPKey.generate_key("Ed25519")
    else:
        key = RSAKey.generate_key(2048)
    public = dict(key.as_dict(private=False))
    public["kid"] = kid or secrets.token_hex(4)
    return key, {"keys": [public]}


@dataclass(frozen=True, slots=True)
class Registered:
    """A registered client with its private key."""

    client: ApiClient
    key: PrivateKey = field(repr=False)
    alg: str
    kid: str

    @property
    def client_id(self) -> str:
        return self.client.client_id


def clients_of(client: TestClient) -> ApiClients:
    found: ApiClients | None = client.app.state.server.clients  # type: ignore[attr-defined]
    assert found is not None
    return found


def assertion(
    registered: Registered,
    *,
    audience: str | list[str] = "http://testserver/api/v1/oauth/token",
    now: datetime | float | None = None,
    lifetime: int = 60,
    jti: str | None = None,
    alg: str | None = None,
    key: Any = None,
    header: dict[str, Any] | None = None,
    without: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A client assertion of ``registered`` (RFC 7523), claims overridable (``None`` or
    ``without`` removes one)."""
    at = now.timestamp() if isinstance(now, datetime) else (now or time.time())
    body: dict[str, Any] = {
        "iss": registered.client_id,
        "sub": registered.client_id,
        "aud": audience,
        "iat": int(at),
        "exp": int(at) + lifetime,
        "jti": secrets.token_urlsafe(16) if jti is None else jti,
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None and k not in without}
    used = alg or registered.alg
    head = {"alg": used, "kid": registered.kid, **(header or {})}
    algorithms = [used]
    return jwt.encode(head, body, key or registered.key, algorithms=algorithms, registry=REGISTRY)


def register_sender(
    client: TestClient, sender: str = "bank", *, alg: str = "ES256", name: str = "Back office"
) -> Registered:
    key, jwks = new_key(alg)
    made = clients_of(client).add_sender(sender, name, jwks=jwks)
    return Registered(made, key, alg, jwks["keys"][0]["kid"])


def subscription_with(
    box: Securebox, companies: Sequence[Siren], *, subscription: str = "123456789"
) -> ClientId:
    """Make sure ``subscription`` exists (opened by the back office, principal user 01 when
    new) and holds ``companies``; its client id."""
    client_id = ClientId(subscription)
    if box.store.get_subscription(client_id) is None:
        box.codes.create_subscription(
            Operator("back-office"), Principal(client_id, UserNumber("01"))
        )
    found = box.store.get_subscription(client_id)
    assert found is not None
    sub = found.value
    for siren in companies:
        if siren not in sub.companies:
            sub = sub.with_company(Company(siren, f"Company {siren.value}", box.clock.now()))
    box.store.commit([PutSubscription(client_id, found.version, sub)], [])
    return client_id


def register_receiver(
    client: TestClient,
    box: Securebox,
    companies: Sequence[Siren],
    *,
    subscription: str = "123456789",
    alg: str = "ES256",
    name: str = "Accounting software",
) -> Registered:
    """A receiver of ``subscription`` reading ``companies`` (added to it if needed)."""
    key, jwks = new_key(alg)
    subscription_with(box, companies, subscription=subscription)
    made = clients_of(client).add_receiver(
        Operator("back-office"), ClientId(subscription), companies, name, jwks=jwks
    )
    return Registered(made, key, alg, jwks["keys"][0]["kid"])


def token_response(
    client: TestClient, registered: Registered, *, scope: str | None = None, **kwargs: Any
) -> Any:
    """The endpoint's answer to a fresh assertion (``kwargs`` go to :func:`assertion`)."""
    clock_now = clients_of(client).clock.now()
    kwargs.setdefault("now", clock_now)
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion(registered, **kwargs),
    }
    if scope is not None:
        form["scope"] = scope
    return client.post(TOKEN_PATH, data=form)


def get_token(client: TestClient, registered: Registered, *, scope: str | None = None) -> str:
    """An access token for ``registered`` through ``POST /api/v1/oauth/token``."""
    answer = token_response(client, registered, scope=scope)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


assert set(ALGORITHMS) >= {"ES256", "EdDSA", "PS256", "RS256"}


def self_signed(name: str, *, now: datetime | None = None) -> tuple[x509.Certificate, bytes]:
    """A client certificate (self-signed, P-256) and its PEM, for ``tls_client_auth``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = (now or datetime.now(UTC)) - timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate, certificate.public_bytes(Encoding.PEM)


def forwarded(pem: bytes) -> dict[str, str]:
    """The header nginx sets from ``$ssl_client_escaped_cert``."""
    return {"X-SSL-Client-Cert": quote(pem.decode("ascii"))}
