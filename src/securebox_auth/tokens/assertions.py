"""Signed assertions: what a session proved, as a JWT a portal or an API can check.

After a login or a step-up, :func:`issue_assertion` signs (joserfc, ES256 or EdDSA over
Ed25519, keys named by ``kid`` and rotated without breaking tokens in flight) the claims a
relying service needs to decide by itself (ASVS 5.0 6.8.4, 10.3.4):

* ``sub``: the principal, ``CLIENT:USER`` (client identifier and user number);
* ``acr`` and ``amr`` (RFC 8176), derived from the session's proofs, never claimed;
* ``auth_time`` (the login) and ``sca_time`` (the last moment two independent categories
  were proven: the freshness of strong authentication);
* ``proofs``: each method proven and when (``{"cap_identify": 1772443800}``), the facts the
  policy engine decides from;
* ``grants``: the step-up grants not yet used, each an operation and the digest of its data
  (amount and payee, batch) with its issue time and expiry;
* ``iss``, ``aud``, ``iat``, ``exp``, ``jti``; the header ``typ`` is
  ``sbx-assertion+jwt`` so the token cannot be confused with another JWT (RFC 8725 3.11).

:func:`verify_assertion` checks the signature with an allow-list of algorithms, the issuer,
the audience and the expiry against the injected ``now`` (the rules of joserfc's claims
registry), the expected subject, and then what other libraries leave out: that the session
the assertion describes may perform the operation.
:meth:`AssertionRequirement.for_operation` hands that decision to the policy engine itself
(:func:`~securebox_auth.policy.engine.decide_operation` on the session rebuilt from
``auth_time``, ``proofs`` and ``grants``), so an assertion never allows what the engine
would refuse. Failures raise typed errors;
:class:`InsufficientAuthentication` renders the engine's RFC 9470 challenge. Single use of a
grant-carrying assertion (its ``jti``) is :class:`~securebox_auth.shell.token_verifier.
AssertionVerifier`'s, through the store.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, GuestProtocol, KeySet, OKPKey
from joserfc.jws import JWSRegistry

from securebox_auth.clock import require_aware
from securebox_auth.crypto.keys import valid_key_id
from securebox_auth.errors import ConfigurationError
from securebox_auth.identity import Principal
from securebox_auth.policy.model import AcrLevels
from securebox_auth.policy.session import Session, session_claims
from securebox_auth.tokens.claims import (
    TokenAudience,
    TokenDenied,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenReplayed,
    TokenSubject,
    assertion_session,
    check_claims,
    floor_ts,
    read_grants,
    read_principal,
    read_proofs,
    read_time,
)
from securebox_auth.tokens.requirement import (
    AssertionGrant,
    AssertionRequirement,
    InsufficientAuthentication,
    VerifiedAssertion,
    satisfies,
)

__all__ = [
    "ALGORITHMS",
    "TYP",
    "AssertionGrant",
    "AssertionRequirement",
    "InsufficientAuthentication",
    "TokenAudience",
    "TokenDenied",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenKeys",
    "TokenReplayed",
    "TokenSubject",
    "VerifiedAssertion",
    "issue_assertion",
    "verify_assertion",
]

#: Signature algorithms securebox issues and accepts (style guide P7). Ed25519 keys sign as
#: ``EdDSA`` (RFC 8037, with ``crv: Ed25519`` in the JWK): the identifier every common
#: verifier knows; RFC 9864's fully specified ``Ed25519`` is not yet understood by many
#: (PyJWT 2.15 among them). See ADR 0013.
ALGORITHMS: Final = ("ES256", "EdDSA")
TYP: Final = "sbx-assertion+jwt"
_MAX_TOKEN: Final = 16 * 1024
_MAX_KEYS: Final = 8
KeyAlgorithm = Literal["ES256", "EdDSA", "Ed25519"]


def _registry_class() -> type[JWSRegistry]:
    """A JWS registry of our two algorithms. joserfc warns on every use of ``EdDSA`` (RFC
    9864 deprecates the polymorphic name); with an OKP key pinned by ``kid`` to ``crv:
    Ed25519`` the name is not ambiguous here, so this registry's copy does not warn."""
    eddsa = copy.copy(JWSRegistry.algorithms["EdDSA"])
    eddsa.security_warning = None

    class _Registry(JWSRegistry):
        algorithms = {"ES256": JWSRegistry.algorithms["ES256"], "EdDSA": eddsa}  # noqa: RUF012
        recommended = ["ES256", "EdDSA"]  # noqa: RUF012

    return _Registry


_REGISTRY_CLASS: Final = _registry_class()


@lru_cache(maxsize=8)
def _allowed(algorithms: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(a for a in ALGORITHMS if a in algorithms)


@lru_cache(maxsize=8)
def _registry(allowed: tuple[str, ...]) -> JWSRegistry:
    """The registry allowing exactly ``allowed`` (joserfc ignores ``algorithms=`` when a
    registry is given)."""
    return _REGISTRY_CLASS(algorithms=list(allowed))


def _okp_as_eddsa(key: OKPKey) -> OKPKey:
    """An Ed25519 key whose JWK says ``alg: Ed25519`` (RFC 9864), re-labelled ``EdDSA``."""
    if key.alg == "EdDSA":
        return key
    document = dict(key.as_dict(private=key.is_private))
    document["alg"] = "EdDSA"
    return OKPKey.import_key(document)


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """Signing keys by ``kid``: the issuer holds private keys, verifiers the public ones
    (:meth:`from_jwks`). :meth:`rotated` adds a new current key and keeps the previous
    ones for verification until :meth:`retired`."""

    keys: tuple[ECKey | OKPKey, ...] = field(repr=False)
    current: str
    _set: KeySet = field(init=False, repr=False, compare=False)
    _by_kid: Mapping[str, ECKey | OKPKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kids = [k.kid for k in self.keys]
        if not self.keys or len(set(kids)) != len(kids) or len(kids) > _MAX_KEYS:
            raise ConfigurationError(f"1 to {_MAX_KEYS} token keys, each with its own kid")
        keys = tuple(_okp_as_eddsa(k) if isinstance(k, OKPKey) else k for k in self.keys)
        for key in keys:
            if key.kid is None or not valid_key_id(key.kid) or key.alg not in ALGORITHMS:
                raise ConfigurationError("each token key has a kid and alg ES256 or EdDSA")
            if isinstance(key, OKPKey) and key.get("crv") != "Ed25519":
                raise ConfigurationError("an OKP token key is an Ed25519 key")
        if self.current not in kids:
            raise ConfigurationError("the current token key is not in the set")
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "_set", KeySet(list(keys)))
        object.__setattr__(self, "_by_kid", {str(k.kid): k for k in keys})

    @staticmethod
    def new_key(kid: str, algorithm: KeyAlgorithm = "ES256") -> ECKey | OKPKey:
        """A new private key: ``ES256`` (P-256), or ``EdDSA`` over Ed25519 (``"Ed25519"``
        names the same key)."""
        if algorithm == "ES256":
            params: Any = {"kid": kid, "alg": "ES256", "use": "sig"}
            return ECKey.generate_key("P-256", parameters=params, private=True)
        if algorithm in {"EdDSA", "Ed25519"}:
            params = {"kid": kid, "alg": "EdDSA", "use": "sig"}
            return OKPKey.generate_key("Ed25519", parameters=params, private=True)
        raise ConfigurationError("token keys are ES256 or EdDSA (Ed25519)")

    @classmethod
    def generate(cls, kid: str = "t1", algorithm: KeyAlgorithm = "ES256") -> TokenKeys:
        return cls((cls.new_key(kid, algorithm),), kid)

    def rotated(self, kid: str, algorithm: KeyAlgorithm = "ES256") -> TokenKeys:
        """A new current key; the old ones stay to verify tokens already issued."""
        return TokenKeys((*self.keys, self.new_key(kid, algorithm))[-_MAX_KEYS:], kid)

    def retired(self, kid: str) -> TokenKeys:
        if kid == self.current:
            raise ConfigurationError("the current token key cannot be retired")
        return TokenKeys(tuple(k for k in self.keys if k.kid != kid), self.current)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWKS document for verifiers (``/.well-known/jwks.json``)."""
        return {"keys": [dict(k.as_dict(private=False)) for k in self.keys]}

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any], current: str | None = None) -> TokenKeys:
        """Public keys for a verifier (it never signs, so ``current`` is informative)."""
        try:
            keys = [
                ECKey.import_key(dict(d)) if d.get("kty") == "EC" else OKPKey.import_key(dict(d))
                for d in document["keys"]
            ]
        except (JoseError, KeyError, TypeError, ValueError, AttributeError):
            raise ConfigurationError("not a JWKS document of EC or OKP keys") from None
        if not keys:
            raise ConfigurationError("a JWKS document lists at least one key")
        return cls(tuple(keys), current or str(keys[-1].kid))

    @property
    def key_set(self) -> KeySet:
        return self._set

    def key_for(self, token: GuestProtocol) -> ECKey | OKPKey:
        """The verification key named by the token's ``kid`` (joserfc key callable)."""
        kid = token.headers().get("kid")
        key = self._by_kid.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenInvalid("the assertion names an unknown key")
        return key

    @property
    def signing_key(self) -> ECKey | OKPKey:
        return next(k for k in self.keys if k.kid == self.current)


def issue_assertion(
    session: Session,
    *,
    keys: TokenKeys,
    issuer: str,
    audience: str,
    now: datetime,
    levels: AcrLevels | None = None,
    lifetime: timedelta = timedelta(minutes=5),
    jti: str | None = None,
) -> str:
    """Sign what ``session`` proved at ``now``. ``acr``/``amr`` come from its proofs.

    Issue from a live session (the shell has just decided with it): a verifier's engine
    counts the session's inactivity from ``iat``."""
    now = require_aware(now)
    if not timedelta(seconds=10) <= lifetime <= timedelta(hours=1):
        raise ConfigurationError("an assertion lives 10 seconds to 1 hour")
    acr, amr = session_claims(session, levels or AcrLevels())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": session.principal.key,
        "iat": floor_ts(now),
        "exp": floor_ts(now + lifetime),
        "jti": jti or secrets.token_urlsafe(16),
        "auth_time": floor_ts(session.auth_time),
        "acr": acr,
        "amr": list(amr),
        "proofs": {p.method: floor_ts(p.at) for p in session.proofs},
    }
    strong = session.sca_time()
    if strong is not None:
        claims["sca_time"] = floor_ts(strong)
    live = [g for g in session.grants if g.expires_at >= now and g.principal == session.principal]
    if live:
        claims["grants"] = [
            {
                "op": g.operation,
                "digest": g.digest,
                "iat": floor_ts(g.issued_at),
                "exp": floor_ts(g.expires_at),
                **({"gid": g.id} if g.id else {}),
            }
            for g in live
        ]
    key = keys.signing_key
    header = {"alg": str(key.alg), "kid": keys.current, "typ": TYP}
    return jwt.encode(
        header, claims, key, algorithms=[str(key.alg)], registry=_registry((str(key.alg),))
    )


def verify_assertion(
    token: object,
    *,
    keys: TokenKeys,
    audience: str,
    issuer: str,
    now: datetime,
    requirement: AssertionRequirement | None = None,
    subject: Principal | None = None,
    algorithms: Iterable[str] = ALGORITHMS,
    leeway: timedelta = timedelta(0),
) -> VerifiedAssertion:
    """Check ``token``, that it names ``subject`` (when given) and that it satisfies
    ``requirement``; raise a :class:`TokenError`.

    Pure: single use of the assertion itself (its ``jti``) is the shell's,
    :class:`~securebox_auth.shell.token_verifier.AssertionVerifier` (see ``docs/tokens.md``).
    """
    now = require_aware(now)
    allowed = ALGORITHMS if algorithms is ALGORITHMS else _allowed(tuple(algorithms))
    if not allowed:
        raise ConfigurationError("no allowed assertion algorithm")
    if not isinstance(token, str) or len(token) > _MAX_TOKEN:
        raise TokenInvalid("an assertion is a compact JWS")
    try:
        decoded = jwt.decode(token, keys.key_for, registry=_registry(allowed))
    except (JoseError, ValueError, KeyError, TypeError):
        raise TokenInvalid("the assertion's signature, key or algorithm is not accepted") from None
    if decoded.header.get("typ") != TYP:
        raise TokenInvalid("this JWT is not a securebox assertion")
    claims = decoded.claims
    check_claims(claims, floor_ts(now), issuer, audience, int(leeway.total_seconds()))
    acr, amr, sub = claims.get("acr"), claims.get("amr"), claims["sub"]
    if (
        not isinstance(acr, str)
        or not isinstance(amr, list)
        or not all(isinstance(v, str) for v in amr)
    ):
        raise TokenInvalid("acr and amr are required")
    auth_time = read_time(claims, "auth_time")
    expires = read_time(claims, "exp")
    issued = read_time(claims, "iat")
    if auth_time is None or expires is None or issued is None:
        raise TokenInvalid("auth_time, iat and exp are required")
    principal = read_principal(sub)
    if subject is not None and principal != subject:
        raise TokenSubject("the assertion is for another principal")
    grants = read_grants(claims.get("grants"), principal)
    session = assertion_session(
        principal, auth_time, issued, read_proofs(claims.get("proofs")), grants
    )
    verified = VerifiedAssertion(
        subject=principal,
        acr=acr,
        amr=tuple(amr),
        auth_time=auth_time,
        sca_time=read_time(claims, "sca_time"),
        grants=tuple(AssertionGrant(g.operation, g.digest, g.expires_at) for g in grants),
        jti=str(claims["jti"]),
        expires_at=expires,
        issuer=issuer,
        audience=audience,
        claims=claims,
        issued_at=issued,
        session=session,
    )
    if requirement is not None:
        spent = satisfies(verified, session, requirement, now)
        if spent is not None:
            return replace(verified, spent=spent)
    return verified
