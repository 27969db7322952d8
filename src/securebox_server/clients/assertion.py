"""RFC 7523 section 3: the checks of a client assertion (``private_key_jwt``), pure.

:func:`verify_client_assertion` takes the assertion, the client it claims to come from (or
``None`` when no such client exists: a fixed key then fails the signature, so an unknown
client costs and answers exactly like a bad signature), the audiences this server accepts
and ``now``. In order:

1. the compact JWS is read (at most 8 kB) and its ``alg`` is on the allow-list ``ES256``,
   ``EdDSA``/``Ed25519``, ``PS256``, ``RS256`` (never ``none`` nor an HMAC: a public key
   is never used as a shared secret);
2. the signature verifies under one of the client's keys of that algorithm's type (by
   ``kid`` when the header names one);
3. only then the claims: ``iss`` = ``sub`` = the client id; ``aud`` names this token
   endpoint's URL or the issuer; ``exp`` is present, in the future (leeway) and at most
   five minutes ahead; ``iat`` and ``nbf`` are not in the future, ``iat`` not older than
   the longest lifetime; ``jti`` is a string of 1 to 128 characters.

Before the signature verifies every failure reads the same ("client authentication
failed"); after it, the description says which claim is wrong (the caller holds the key).
Single use of ``jti`` is the store's (:meth:`.store.ClientStore.issue`).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from securebox_server.clients.keys import ALGORITHMS_OF, parse_jwks
from securebox_server.clients.model import ApiClient, OAuthError

__all__ = [
    "ALGORITHMS",
    "LEEWAY",
    "MAX_LIFETIME",
    "REGISTRY",
    "VerifiedAssertion",
    "check_claims",
    "claimed_client",
    "verify_client_assertion",
]

ALGORITHMS: Final = ("ES256", "EdDSA", "Ed25519", "PS256", "RS256")
#: Clock skew tolerated on exp, nbf and iat.
LEEWAY: Final = timedelta(seconds=30)
#: The furthest ``exp`` may be from ``now`` (and the oldest ``iat``).
MAX_LIFETIME: Final = timedelta(minutes=5)
MAX_ASSERTION: Final = 8192
MAX_JTI: Final = 128


def _registry() -> JWSRegistry:
    """Exactly the allowed algorithms. ``EdDSA`` is accepted with Ed25519 keys only (the key
    types are checked at registration), so joserfc's RFC 9864 warning does not apply."""
    eddsa = copy.copy(JWSRegistry.algorithms["EdDSA"])
    eddsa.security_warning = None
    table = {a: JWSRegistry.algorithms[a] for a in ALGORITHMS}
    table["EdDSA"] = eddsa

    class _Registry(JWSRegistry):
        algorithms = table
        recommended = list(ALGORITHMS)  # noqa: RUF012

    return _Registry(algorithms=list(ALGORITHMS))


REGISTRY: Final = _registry()


@lru_cache(maxsize=3)
def _nobody(key_type: str) -> KeySet:
    """A key of ``key_type`` that verifies nothing: what an unknown client's assertion (or
    one naming no usable key) is checked against, so it costs like a bad signature."""
    if key_type == "OKP":
        return KeySet([OKPKey.generate_key("Ed25519", private=False)])
    if key_type == "RSA":
        return KeySet([RSAKey.generate_key(2048, private=False)])
    return KeySet([ECKey.generate_key("P-256", private=False)])


_KEY_TYPE: Final = {"ES256": "EC", "EdDSA": "OKP", "Ed25519": "OKP", "PS256": "RSA", "RS256": "RSA"}


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    """A valid assertion: its ``jti``, remembered until ``expires_at`` (exp + leeway)."""

    client_id: str
    jti: str
    expires_at: datetime


def _header(assertion: str) -> Mapping[str, Any]:
    if not 0 < len(assertion) <= MAX_ASSERTION or assertion.count(".") != 2:
        raise OAuthError.client()
    try:
        header = jws.extract_compact(assertion.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        raise OAuthError.client() from None
    if header.get("alg") not in ALGORITHMS:
        raise OAuthError.client()
    return header


def _candidates(client: ApiClient | None, alg: str, kid: object) -> KeySet:
    """The client's keys that may carry ``alg`` (named by ``kid`` when given)."""
    if client is None or client.jwks is None:
        return _nobody(_KEY_TYPE[alg])
    _, keys = parse_jwks(client.jwks)
    usable = [
        k for k in keys.keys if alg in ALGORITHMS_OF[k.key_type] and (kid is None or k.kid == kid)
    ]
    return KeySet(usable) if usable else _nobody(_KEY_TYPE[alg])


def _verify(assertion: str, keys: KeySet, alg: str) -> dict[str, Any]:
    for key in keys.keys:
        try:
            token = jwt.decode(assertion, key, algorithms=[alg], registry=REGISTRY)
        except (JoseError, ValueError, TypeError):
            continue
        if not isinstance(token.claims, dict):  # JSON, signed, but not an object: "0", "[]"
            raise OAuthError.client("the claims are not a JSON object")
        return dict(token.claims)
    raise OAuthError.client()


def _time(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value):
        raise OAuthError.client(f"{name} is not a NumericDate")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise OAuthError.client(f"{name} is out of range") from None


def check_claims(
    claims: Mapping[str, Any], client_id: str, audiences: Collection[str], now: datetime
) -> VerifiedAssertion:
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise OAuthError.client("iss and sub must both be the client_id")
    aud = claims.get("aud")
    named = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a in audiences for a in named):
        raise OAuthError.client("aud must name this token endpoint")
    exp, iat, nbf = _time(claims, "exp"), _time(claims, "iat"), _time(claims, "nbf")
    if exp is None:
        raise OAuthError.client("exp is required")
    if now >= exp + LEEWAY:
        raise OAuthError.client("the assertion has expired")
    if exp > now + MAX_LIFETIME + LEEWAY:
        raise OAuthError.client("exp is more than five minutes ahead")
    if (nbf is not None and nbf > now + LEEWAY) or (iat is not None and iat > now + LEEWAY):
        raise OAuthError.client("the assertion is not valid yet")
    if iat is not None and iat < now - MAX_LIFETIME - LEEWAY:
        raise OAuthError.client("iat is too old")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI:
        raise OAuthError.client("jti is required (1 to 128 characters)")
    return VerifiedAssertion(client_id, jti, exp + LEEWAY)


def claimed_client(assertion: str) -> str | None:
    """The ``sub`` the (unverified) assertion claims, to find the client and count the
    attempt against it; ``None`` when it cannot be read."""
    try:
        value = json.loads(jws.extract_compact(assertion.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeError):
        return None
    sub = value.get("sub") if isinstance(value, dict) else None
    return sub if isinstance(sub, str) and 0 < len(sub) <= 64 else None


def verify_client_assertion(
    assertion: str,
    client: ApiClient | None,
    client_id: str,
    audiences: Collection[str],
    now: datetime,
) -> VerifiedAssertion:
    """The verified assertion of ``client_id`` (see the module documentation), or
    :class:`OAuthError` ``invalid_client``."""
    header = _header(assertion)
    alg = str(header["alg"])
    claims = _verify(assertion, _candidates(client, alg, header.get("kid")), alg)
    if client is None or client.client_id != client_id:  # pragma: no cover - no key
        raise OAuthError.client()
    return check_claims(claims, client_id, audiences, now)
