"""Signed assertions: what a session proved, as a JWT a portal or an API can check.

After a login or a step-up, :func:`issue_assertion` signs (joserfc, ES256 or Ed25519, keys
named by ``kid`` and rotated without breaking tokens in flight) the claims a relying service
needs to decide by itself (ASVS 5.0 6.8.4, 10.3.4):

* ``sub``: the principal, ``CLIENT:USER`` (client identifier and user number);
* ``acr`` and ``amr`` (RFC 8176), derived from the session's proofs, never claimed;
* ``auth_time`` (the login) and ``sca_time`` (the last moment two independent categories
  were proven: the freshness of strong authentication);
* ``grants``: the step-up grants not yet used, each an operation and the digest of its data
  (amount and payee, batch) with its expiry;
* ``iss``, ``aud``, ``iat``, ``exp``, ``jti``; the header ``typ`` is
  ``sbx-assertion+jwt`` so the token cannot be confused with another JWT (RFC 8725 3.11).

:func:`verify_assertion` checks the signature with an allow-list of algorithms, the issuer,
the audience and the expiry against the injected ``now``, and then
what other libraries leave out: that ``acr``, ``amr``, ``auth_time`` and ``sca_time``
satisfy the operation's requirement (:meth:`AssertionRequirement.for_operation` builds it
from the policy). Failures raise typed errors; :class:`InsufficientAuthentication` renders
the RFC 9470 challenge.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, ClassVar, Final, Literal

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, GuestProtocol, KeySet, OKPKey

from securebox_auth.clock import require_aware
from securebox_auth.errors import ConfigurationError, InvalidIdentifier, SecureboxError
from securebox_auth.identity import Principal
from securebox_auth.keys import valid_key_id
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.policy.model import AcrLevels, Policy
from securebox_auth.policy.session import Session, session_claims

__all__ = [
    "ALGORITHMS",
    "TYP",
    "AssertionGrant",
    "AssertionRequirement",
    "InsufficientAuthentication",
    "TokenAudience",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenKeys",
    "VerifiedAssertion",
    "issue_assertion",
    "verify_assertion",
]

#: Signature algorithms securebox issues and accepts (style guide P7).
ALGORITHMS: Final = ("ES256", "Ed25519")
TYP: Final = "sbx-assertion+jwt"
_MAX_TOKEN: Final = 16 * 1024
_MAX_KEYS: Final = 8


class TokenError(SecureboxError):
    """Root of assertion errors; ``status_hint`` 401 with ``error="invalid_token"``."""

    code: ClassVar[str] = "invalid_token"
    status_hint: ClassVar[int] = 401


class TokenInvalid(TokenError):
    """Not a well-formed assertion, an algorithm not allowed, an unknown key, a bad
    signature, a wrong issuer or type."""


class TokenExpired(TokenError):
    code: ClassVar[str] = "token_expired"


class TokenAudience(TokenError):
    """The assertion was issued for another service."""

    code: ClassVar[str] = "invalid_audience"


class InsufficientAuthentication(TokenError):
    """The assertion is genuine but does not prove enough, or not recently enough, for the
    operation (ASVS 5.0 6.8.4). :meth:`www_authenticate` is the RFC 9470 challenge."""

    code: ClassVar[str] = "insufficient_user_authentication"

    def __init__(self, message: str, requirement: AssertionRequirement) -> None:
        super().__init__(message)
        self.requirement = requirement

    def www_authenticate(self) -> str:
        r = self.requirement
        parts = ['Bearer error="insufficient_user_authentication"']
        parts.append(f'error_description="{self.args[0]}"')
        if r.acr_values:
            parts.append(f'acr_values="{" ".join(sorted(r.acr_values))}"')
        age = r.sca_max_age if r.sca_max_age is not None else r.max_age
        if age is not None:
            parts.append(f'max_age="{int(age.total_seconds())}"')
        return ", ".join(parts)


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
        for key in self.keys:
            if key.kid is None or not valid_key_id(key.kid) or key.alg not in ALGORITHMS:
                raise ConfigurationError("each token key has a kid and alg ES256 or Ed25519")
        if self.current not in kids:
            raise ConfigurationError("the current token key is not in the set")
        object.__setattr__(self, "_set", KeySet(list(self.keys)))
        object.__setattr__(self, "_by_kid", {str(k.kid): k for k in self.keys})

    @staticmethod
    def new_key(kid: str, algorithm: Literal["ES256", "Ed25519"] = "ES256") -> ECKey | OKPKey:
        params: Any = {"kid": kid, "alg": algorithm, "use": "sig"}
        if algorithm == "ES256":
            return ECKey.generate_key("P-256", parameters=params, private=True)
        if algorithm == "Ed25519":
            return OKPKey.generate_key("Ed25519", parameters=params, private=True)
        raise ConfigurationError("token keys are ES256 or Ed25519")

    @classmethod
    def generate(
        cls, kid: str = "t1", algorithm: Literal["ES256", "Ed25519"] = "ES256"
    ) -> TokenKeys:
        return cls((cls.new_key(kid, algorithm),), kid)

    def rotated(self, kid: str, algorithm: Literal["ES256", "Ed25519"] = "ES256") -> TokenKeys:
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


@dataclass(frozen=True, slots=True)
class AssertionGrant:
    """A step-up grant carried by an assertion."""

    operation: str
    digest: str | None
    expires_at: datetime


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


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
    """Sign what ``session`` proved at ``now``. ``acr``/``amr`` come from its proofs."""
    now = require_aware(now)
    if not timedelta(seconds=10) <= lifetime <= timedelta(hours=1):
        raise ConfigurationError("an assertion lives 10 seconds to 1 hour")
    acr, amr = session_claims(session, levels or AcrLevels())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": session.principal.key,
        "iat": _ts(now),
        "exp": _ts(now + lifetime),
        "jti": jti or secrets.token_urlsafe(16),
        "auth_time": _ts(session.auth_time),
        "acr": acr,
        "amr": list(amr),
    }
    strong = session.sca_time()
    if strong is not None:
        claims["sca_time"] = _ts(strong)
    live = [g for g in session.grants if g.expires_at > now and g.principal == session.principal]
    if live:
        claims["grants"] = [
            {"op": g.operation, "digest": g.digest, "exp": _ts(g.expires_at)} for g in live
        ]
    key = keys.signing_key
    header = {"alg": str(key.alg), "kid": keys.current, "typ": TYP}
    return jwt.encode(header, claims, key, algorithms=[str(key.alg)])


@dataclass(frozen=True, slots=True, kw_only=True)
class AssertionRequirement:
    """What an operation needs from an assertion. Empty: a genuine, unexpired assertion."""

    #: Accepted ``acr`` values (any of them); empty accepts any.
    acr_values: frozenset[str] = frozenset()
    #: ``amr`` values that must all be present.
    amr: frozenset[str] = frozenset()
    #: The login (``auth_time``) must be at most this old.
    max_age: timedelta | None = None
    #: The last strong authentication (``sca_time``) must be at most this old.
    sca_max_age: timedelta | None = None
    #: A grant for this operation (and exactly this digest) must be carried.
    operation: str | None = None
    digest: str | None = None

    @classmethod
    def for_operation(cls, policy: Policy, request: OperationRequest) -> AssertionRequirement:
        """The requirement of ``policy`` for ``request`` (what ``decide_operation`` would
        ask of a session)."""
        rule = policy.operation(request.operation)
        if rule is None or not rule.sensitive:
            return cls()
        strong = frozenset({policy.acr.strong, policy.acr.phishing_resistant})
        if rule.single_use:
            return cls(
                acr_values=strong,
                operation=rule.name,
                digest=request.digest(rule.linking),
            )
        return cls(acr_values=strong, sca_max_age=rule.max_age)


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    subject: Principal
    acr: str
    amr: tuple[str, ...]
    auth_time: datetime
    sca_time: datetime | None
    grants: tuple[AssertionGrant, ...]
    jti: str
    expires_at: datetime
    issuer: str
    audience: str
    claims: Mapping[str, Any] = field(repr=False)


@lru_cache(maxsize=4096)
def _principal(sub: str) -> Principal:
    """``sub`` as a principal (cached: principals are immutable values)."""
    try:
        return Principal.from_key(sub)
    except InvalidIdentifier:
        raise TokenInvalid("sub is not a principal") from None


def _time(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if type(value) is not int:
        raise TokenInvalid(f"{name} is not a whole number of seconds")
    return datetime.fromtimestamp(value, UTC)


def _grants(raw: object) -> tuple[AssertionGrant, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TokenInvalid("grants is not a list")
    grants = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("op"), str):
            raise TokenInvalid("a grant names its operation")
        digest = item.get("digest")
        if digest is not None and not isinstance(digest, str):
            raise TokenInvalid("a grant digest is text")
        expires = _time(item, "exp")
        if expires is None:
            raise TokenInvalid("a grant has an expiry")
        grants.append(AssertionGrant(item["op"], digest, expires))
    return tuple(grants)


def _claims_valid(
    claims: Mapping[str, Any], now: int, issuer: str, audience: str, leeway: int
) -> None:
    """iss, aud, exp, nbf, iat, sub and jti, checked against the injected ``now`` (plain
    integer comparisons: the same rules as joserfc's claims registry, at a tenth of its cost).
    """
    if claims.get("iss") != issuer:
        raise TokenInvalid("the assertion comes from another issuer")
    aud = claims.get("aud")
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise TokenAudience("the assertion is for another audience")
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is not None and type(value) is not int:
            raise TokenInvalid(f"{name} is not a whole number of seconds")
    exp = claims.get("exp")
    if exp is None:
        raise TokenInvalid("the assertion has no expiry")
    if now >= exp + leeway:
        raise TokenExpired("the assertion has expired")
    nbf, iat = claims.get("nbf"), claims.get("iat")
    if (nbf is not None and nbf > now + leeway) or (iat is not None and iat > now + leeway):
        raise TokenInvalid("the assertion is not valid yet")
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
        raise TokenInvalid("sub and jti are required")


def verify_assertion(
    token: object,
    *,
    keys: TokenKeys,
    audience: str,
    issuer: str,
    now: datetime,
    requirement: AssertionRequirement | None = None,
    algorithms: Iterable[str] = ALGORITHMS,
    leeway: timedelta = timedelta(0),
) -> VerifiedAssertion:
    """Check ``token`` and that it satisfies ``requirement``; raise a :class:`TokenError`.

    Single use of the assertion itself (its ``jti``) is the caller's: a grant carried by an
    assertion is consumed by storing the ``jti`` until ``expires_at`` (see ``docs/tokens.md``).
    """
    now = require_aware(now)
    allowed = [a for a in algorithms if a in ALGORITHMS]
    if not allowed:
        raise ConfigurationError("no allowed assertion algorithm")
    if not isinstance(token, str) or len(token) > _MAX_TOKEN:
        raise TokenInvalid("an assertion is a compact JWS")
    try:
        decoded = jwt.decode(token, keys.key_for, algorithms=allowed)
    except (JoseError, ValueError, KeyError, TypeError):
        raise TokenInvalid("the assertion's signature, key or algorithm is not accepted") from None
    if decoded.header.get("typ") != TYP:
        raise TokenInvalid("this JWT is not a securebox assertion")
    claims = decoded.claims
    _claims_valid(claims, _ts(now), issuer, audience, int(leeway.total_seconds()))
    acr, amr, sub = claims.get("acr"), claims.get("amr"), claims.get("sub")
    if (
        not isinstance(acr, str)
        or not isinstance(amr, list)
        or not all(isinstance(v, str) for v in amr)
    ):
        raise TokenInvalid("acr and amr are required")
    auth_time = _time(claims, "auth_time")
    expires = _time(claims, "exp")
    if auth_time is None or expires is None or not isinstance(sub, str):
        raise TokenInvalid("auth_time, exp and sub are required")
    subject = _principal(sub)
    verified = VerifiedAssertion(
        subject=subject,
        acr=acr,
        amr=tuple(amr),
        auth_time=auth_time,
        sca_time=_time(claims, "sca_time"),
        grants=_grants(claims.get("grants")),
        jti=str(claims["jti"]),
        expires_at=expires,
        issuer=issuer,
        audience=audience,
        claims=claims,
    )
    if requirement is not None:
        _satisfies(verified, requirement, now)
    return verified


def _satisfies(a: VerifiedAssertion, r: AssertionRequirement, now: datetime) -> None:
    if r.acr_values and a.acr not in r.acr_values:
        raise InsufficientAuthentication(f"acr {a.acr} is not accepted", r)
    missing = r.amr - set(a.amr)
    if missing:
        raise InsufficientAuthentication(f"amr lacks {' '.join(sorted(missing))}", r)
    if r.max_age is not None and (now - a.auth_time > r.max_age or a.auth_time > now):
        raise InsufficientAuthentication("the login is too old", r)
    if r.sca_max_age is not None and (
        a.sca_time is None or now - a.sca_time > r.sca_max_age or a.sca_time > now
    ):
        raise InsufficientAuthentication("the strong authentication is too old", r)
    if r.operation is not None and not _granted(a.grants, r.operation, r.digest, now):
        raise InsufficientAuthentication(f"no step-up grant for {r.operation}", r)


def _granted(
    grants: Sequence[AssertionGrant], operation: str, digest: str | None, now: datetime
) -> bool:
    return any(
        g.operation == operation and g.digest == digest and g.expires_at > now for g in grants
    )
