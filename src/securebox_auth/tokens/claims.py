"""The claims of a signed assertion: typed errors, parsing, and the session they describe.

Pure functions of the decoded claims and an injected ``now``;
:mod:`securebox_auth.tokens.assertions` signs and verifies, this module reads what was signed.

* The registered claims (``iss``, ``aud``, ``exp``, ``nbf``, ``iat``, ``sub``, ``jti``) are
  checked by :func:`check_claims` with the rules of joserfc's own
  :class:`~joserfc.jwt.JWTClaimsRegistry` (a differential property test holds the two to
  the same verdict), plus stricter rules the registry leaves out: times are whole seconds
  (``int``, never a float or a boolean), the assertion is refused **at** ``exp`` (RFC 7519
  section 4.1.4: "before", where joserfc still accepts ``now == exp``), ``iss``, ``sub`` and
  ``jti`` are strings (joserfc accepts a list naming the issuer), and ``jti`` is at most
  128 characters.
* ``proofs`` (each method proven, with the time of its proof) and ``grants`` are read back
  into a :class:`~securebox_auth.policy.session.Session` (:func:`assertion_session`) so the
  policy engine itself decides what the assertion may do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar, Final

from securebox_auth.errors import InvalidIdentifier, MalformedInput, SecureboxError
from securebox_auth.factors.methods import METHODS
from securebox_auth.identity import Principal
from securebox_auth.policy.session import Grant, Proof, Session

__all__ = [
    "CHANNEL",
    "TokenAudience",
    "TokenDenied",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenReplayed",
    "TokenRevoked",
    "TokenSubject",
    "assertion_session",
    "check_claims",
    "floor_ts",
    "read_grants",
    "read_principal",
    "read_proofs",
    "read_time",
]

#: The access channel of a session rebuilt from an assertion (operation decisions ignore it).
CHANNEL: Final = "assertion"
#: Longest ``jti`` accepted (the store keys single use by it).
MAX_JTI: Final = 128


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


class TokenSubject(TokenError):
    """The assertion names another principal than the one the caller expects."""

    code: ClassVar[str] = "invalid_subject"


class TokenReplayed(TokenError):
    """The assertion (its ``jti``) was already used for a single-use operation."""

    code: ClassVar[str] = "token_replayed"


class TokenRevoked(TokenError):
    """The assertion was issued from a session its user's sessions were all ended after (a
    log out everywhere, an account recovery, the user's removal): refused although its
    ``exp`` has not passed (:class:`~securebox_auth.shell.token_verifier.AssertionVerifier`
    on the portal's store)."""

    code: ClassVar[str] = "token_revoked"


class TokenDenied(TokenError):
    """The policy denies the operation whatever the assertion proves (an unlisted operation
    under ``unlisted_operations = "deny"``): no step-up can help."""

    code: ClassVar[str] = "operation_denied"
    status_hint: ClassVar[int] = 403


def floor_ts(moment: datetime) -> int:
    """Whole seconds, rounded down: a proof, a login or an expiry reads as older, which is
    stricter (a grant's issue time too, which matters only when the verifier's clock is
    behind the issuer's, and the assertion's own ``iat`` check bounds that)."""
    return math.floor(moment.timestamp())


@lru_cache(maxsize=4096)
def read_principal(sub: str) -> Principal:
    """``sub`` as a principal (cached: principals are immutable values)."""
    try:
        return Principal.from_key(sub)
    except InvalidIdentifier:
        raise TokenInvalid("sub is not a principal") from None


def read_time(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if type(value) is not int:
        raise TokenInvalid(f"{name} is not a whole number of seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise TokenInvalid(f"{name} is out of range") from None


def read_grants(raw: object, principal: Principal) -> tuple[Grant, ...]:
    """The ``grants`` claim as the session's grants (bound to the assertion's subject)."""
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
        expires, issued = read_time(item, "exp"), read_time(item, "iat")
        if expires is None or issued is None:
            raise TokenInvalid("a grant has an issue time and an expiry")
        gid = item.get("gid", "")
        if not isinstance(gid, str) or len(gid) > MAX_JTI:
            raise TokenInvalid("a grant identifier is short text")
        grants.append(Grant(item["op"], principal, digest, issued, expires, (), id=gid))
    return tuple(grants)


def read_proofs(raw: object) -> tuple[Proof, ...]:
    """The ``proofs`` claim (``{method: time}``) as the session's proofs."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise TokenInvalid("proofs is an object of method names and times")
    proofs = []
    for name in raw:
        if name not in METHODS:
            raise TokenInvalid("proofs names an unknown method")
        at = read_time(raw, name)
        if at is None:
            raise TokenInvalid("a proof has a time")
        proofs.append(Proof(name, at))
    return tuple(sorted(proofs, key=lambda p: p.at))


def check_claims(
    claims: Mapping[str, Any], now: int, issuer: str, audience: str, leeway: int
) -> None:
    """iss, aud, exp, nbf, iat, sub and jti against the injected ``now``.

    The rules of joserfc's :class:`~joserfc.jwt.JWTClaimsRegistry` (``iss`` and ``aud`` with
    their expected value, ``exp``, ``sub`` and ``jti`` essential, no blank value, ``nbf`` and
    ``iat`` not in the future), written as plain comparisons because the registry costs
    more than the rest of the checks together (it would put a verification over its
    performance target), plus the stricter rules of the module docstring. A differential
    property test (``tests/test_tokens_claims.py``) holds it to the registry's verdict.
    """
    for name in ("exp", "nbf", "iat"):
        if name in claims and type(claims[name]) is not int:
            raise TokenInvalid(f"{name} is not a whole number of seconds")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss or iss != issuer:
        raise TokenInvalid("the assertion comes from another issuer")
    aud = claims.get("aud")
    if aud in (None, "", [], {}) or (
        audience not in aud if isinstance(aud, list) else aud != audience
    ):
        raise TokenAudience("the assertion is for another audience")
    exp = claims.get("exp")
    if exp is None:
        raise TokenInvalid("the assertion has no expiry")
    if now >= exp + leeway:
        raise TokenExpired("the assertion has expired")
    nbf, iat = claims.get("nbf"), claims.get("iat")
    if (nbf is not None and nbf > now + leeway) or (iat is not None and iat > now + leeway):
        raise TokenInvalid("the assertion is not valid yet")
    sub, jti = claims.get("sub"), claims.get("jti")
    if not isinstance(sub, str) or not isinstance(jti, str) or not sub or not jti:
        raise TokenInvalid("sub and jti are required")
    if len(jti) > MAX_JTI:
        raise TokenInvalid("jti is too long")


def assertion_session(
    principal: Principal,
    auth_time: datetime,
    issued_at: datetime,
    proofs: tuple[Proof, ...],
    grants: tuple[Grant, ...],
) -> Session:
    """The session an assertion describes, as the engine sees it: its login, its proofs and
    grants, active when the assertion was issued."""
    try:
        return Session(principal, CHANNEL, auth_time, issued_at, proofs, grants)
    except MalformedInput:  # pragma: no cover - every part was read and typed above
        raise TokenInvalid("the assertion does not describe a session") from None
