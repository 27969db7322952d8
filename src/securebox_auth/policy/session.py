"""What an authenticated session knows, and its pure transitions.

A :class:`Session` records *facts*, never conclusions: who (the principal), on which access
channel, when the login happened (``auth_time``), when the user was last active, each method
proven with the time of its proof, and the step-up grants not yet used. Whether the session is
strong, its ``acr`` and its ``amr`` are always derived from the proofs, so a session can never
claim more than was proven (downgrade protection), and re-authenticating with a weaker method
never inherits the strength of an expired session: :func:`open_session` starts from nothing.

Every transition returns a new session; the shell stores it with compare-and-swap (a grant
consumed in one request can then never be consumed again by a concurrent one).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final, NamedTuple

from securebox_auth.clock import require_aware
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.methods import (
    METHODS,
    FactorCategory,
    categories_from_mask,
    category_mask,
)
from securebox_auth.identity import Principal
from securebox_auth.policy.model import AcrLevels, SessionRules

__all__ = [
    "MAX_GRANTS",
    "TOUCH_CEILING",
    "TOUCH_FRACTION",
    "Grant",
    "Proof",
    "Session",
    "claims",
    "expiry",
    "login_session",
    "open_session",
    "session_acr",
    "session_amr",
    "session_claims",
    "touch",
    "touch_due",
    "touch_granularity",
    "with_grant",
    "with_proofs",
    "without_grant",
]

#: A session keeps at most this many unused grants (one per operation; oldest dropped).
MAX_GRANTS: Final = 16

#: The idle timer is written at most once per granularity ``G = min(TOUCH_CEILING,
#: idle_timeout / TOUCH_FRACTION)`` (ADR 0029): 15 s for PSD2's 5-minute idle timeout.
TOUCH_CEILING: Final = timedelta(seconds=60)
TOUCH_FRACTION: Final = 20

# For each method, the indexes (0 knowledge, 1 possession, 2 inherence) of the categories it
# proves: sca_time runs on every operation decision and must not hash enums.
_BITS: Final = {
    name: tuple(i for i in range(3) if category_mask([name]) & (1 << i)) for name in METHODS
}


class Proof(NamedTuple):
    """``method`` was verified at ``at`` (a named tuple: sessions create them on every
    login, so they must be cheap)."""

    method: str
    at: datetime

    def __str__(self) -> str:
        return f"{self.method} at {self.at.isoformat()}"


@dataclass(frozen=True, slots=True)
class Grant:
    """The right to perform one operation, earned by a step-up.

    Bound to the operation, the principal and (for linked operations) the digest of the
    operation's data; valid until ``expires_at``; consumed by its use when ``single_use``.
    """

    operation: str
    principal: Principal
    digest: str | None
    issued_at: datetime
    expires_at: datetime
    methods: tuple[str, ...]
    single_use: bool = True
    #: An identifier the shell gives the grant when it records the step-up (random, so
    #: that a verifier can tell two grants apart; ``""`` when none was given).
    id: str = ""


@dataclass(frozen=True, slots=True, init=False)
class Session:
    principal: Principal
    channel: str
    #: When the login that opened this session happened (OIDC ``auth_time``).
    auth_time: datetime
    last_activity: datetime
    #: The latest proof of each method, oldest first.
    proofs: tuple[Proof, ...]
    grants: tuple[Grant, ...] = ()

    def __init__(
        self,
        principal: Principal,
        channel: str,
        auth_time: datetime,
        last_activity: datetime,
        proofs: tuple[Proof, ...],
        grants: tuple[Grant, ...] = (),
    ) -> None:
        # Every operation decision builds a session (activity, grants): setting the slots
        # through their descriptors costs half of the generated frozen __init__.
        p, c, a, la, pr, g = _SESSION_SLOTS
        p(self, principal)
        c(self, channel)
        a(self, auth_time)
        la(self, last_activity)
        pr(self, proofs)
        g(self, grants)

    def categories(
        self, *, accepted: Collection[str] | None = None, since: datetime | None = None
    ) -> frozenset[FactorCategory]:
        """The categories proven by proofs of ``accepted`` methods made at or after ``since``."""
        return categories_from_mask(self.mask(accepted=accepted, since=since))

    def mask(
        self, *, accepted: Collection[str] | None = None, since: datetime | None = None
    ) -> int:
        """:meth:`categories` as a bit mask (see
        :func:`~securebox_auth.factors.methods.category_mask`)."""
        return category_mask(
            p.method
            for p in self.proofs
            if (accepted is None or p.method in accepted) and (since is None or p.at >= since)
        )

    def sca_time(
        self, *, accepted: Collection[str] | None = None, min_categories: int = 2
    ) -> datetime | None:
        """The latest moment from which proofs of ``accepted`` methods cover
        ``min_categories`` categories, or ``None`` if they never did.

        For each category the most recent proof counts; the answer is the
        ``min_categories``-th most recent of those times. A proof is fresh for a rule with
        ``max_age`` when ``now - sca_time <= max_age``.
        """
        latest: list[datetime | None] = [None, None, None]
        for proof in self.proofs:
            if accepted is not None and proof.method not in accepted:
                continue
            at = proof.at
            for index in _BITS[proof.method]:
                seen = latest[index]
                if seen is None or at > seen:
                    latest[index] = at
        times = sorted((t for t in latest if t is not None), reverse=True)
        if len(times) < min_categories:
            return None
        return times[min_categories - 1]

    @property
    def strong(self) -> bool:
        """True when the proofs of this session cover two independent categories."""
        return self.mask() in (3, 5, 6, 7)

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(p.method for p in self.proofs)


_SESSION_SLOTS: Final = tuple(
    getattr(Session, name).__set__
    for name in ("principal", "channel", "auth_time", "last_activity", "proofs", "grants")
)


def _check_channel(channel: str) -> str:
    if not isinstance(channel, str) or not 1 <= len(channel) <= 64 or not channel.isprintable():
        raise MalformedInput("a channel is a short printable name")
    return channel


def _merge(proofs: tuple[Proof, ...], methods: Iterable[str], now: datetime) -> tuple[Proof, ...]:
    names = tuple(dict.fromkeys(methods))
    category_mask(names)  # unknown names raise MalformedInput
    kept = tuple(p for p in proofs if p.method not in names)
    return kept + tuple(Proof(name, now) for name in names)


def login_session(
    principal: Principal, channel: str, names: tuple[str, ...], now: datetime
) -> Session:
    """:func:`open_session` for callers that already validated ``names`` (distinct, known
    methods) and ``now`` (aware UTC): the engine's fast path."""
    if not isinstance(principal, Principal):
        raise MalformedInput("a session belongs to a Principal")
    proofs = tuple([Proof(name, now) for name in names])
    return Session(principal, _check_channel(channel), now, now, proofs)


def open_session(
    principal: Principal, channel: str, methods: Iterable[str], now: datetime
) -> Session:
    """A new session after a login that proved ``methods`` at ``now`` (nothing inherited)."""
    if now.tzinfo is not UTC:
        now = require_aware(now)
    if not isinstance(principal, Principal):
        raise MalformedInput("a session belongs to a Principal")
    proofs = _merge((), methods, now)
    if not proofs:
        raise MalformedInput("a login proves at least one method")
    return Session(principal, _check_channel(channel), now, now, proofs)


def touch(session: Session, now: datetime, *, grants: tuple[Grant, ...] | None = None) -> Session:
    """Record activity at ``now`` (never moving ``last_activity`` backwards), and replace
    the grants when ``grants`` is given."""
    if grants is None:
        if now <= session.last_activity:
            return session
        grants = session.grants
    return Session(
        session.principal,
        session.channel,
        session.auth_time,
        now if now > session.last_activity else session.last_activity,
        session.proofs,
        grants,
    )


def touch_granularity(rules: SessionRules) -> timedelta:
    """``G``: the most the recorded ``last_activity`` may lag behind the last request."""
    return min(TOUCH_CEILING, rules.idle_timeout / TOUCH_FRACTION)


def touch_due(session: Session, rules: SessionRules, now: datetime) -> bool:
    """Whether activity at ``now`` must be written (ADR 0029): when ``last_activity`` would
    advance by at least :func:`touch_granularity`. Skipping a write leaves ``last_activity``
    earlier than the real last request (by less than ``G``), so a session ends at most ``G``
    before a per-request write would end it, never after: the idle timeout is never extended.
    """
    return now - session.last_activity >= touch_granularity(rules)


def with_proofs(session: Session, methods: Iterable[str], now: datetime) -> Session:
    """Add proofs made at ``now`` (a step-up); a newer proof of a method replaces the older."""
    return Session(
        session.principal,
        session.channel,
        session.auth_time,
        max(now, session.last_activity),
        _merge(session.proofs, methods, now),
        session.grants,
    )


def with_grant(session: Session, grant: Grant) -> Session:
    """Add ``grant``, replacing an earlier grant for the same operation."""
    if grant.principal != session.principal:
        raise MalformedInput("a grant belongs to the session's own principal")
    grants = (*(g for g in session.grants if g.operation != grant.operation), grant)
    return Session(
        session.principal,
        session.channel,
        session.auth_time,
        session.last_activity,
        session.proofs,
        grants[-MAX_GRANTS:],
    )


def without_grant(session: Session, grant: Grant) -> Session:
    """Remove ``grant`` (consumed or invalidated)."""
    return Session(
        session.principal,
        session.channel,
        session.auth_time,
        session.last_activity,
        session.proofs,
        tuple(g for g in session.grants if g is not grant and g != grant),
    )


def expiry(session: Session, rules: SessionRules, now: datetime) -> str | None:
    """``"idle"`` or ``"lifetime"`` when the session has expired at ``now``, else ``None``.

    Inactivity of exactly ``idle_timeout`` is still allowed; one second more is not.
    """
    if now - session.auth_time > rules.absolute_lifetime:
        return "lifetime"
    if now - session.last_activity > rules.idle_timeout:
        return "idle"
    return None


@lru_cache(maxsize=512)
def _strength(methods: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
    """(0 simple, 1 strong, 2 strong and phishing-resistant; amr values) of a method set."""
    strong = category_mask(methods) in (3, 5, 6, 7)
    level = 0
    if strong:
        level = 2 if any(METHODS[name].phishing_resistant for name in methods) else 1
    values: list[str] = []
    for name in methods:
        values.extend(v for v in METHODS[name].amr if v not in values)
    if strong and "mfa" not in values:
        values.append("mfa")
    return level, tuple(values)


def claims(names: tuple[str, ...], levels: AcrLevels) -> tuple[str, tuple[str, ...]]:
    """``(acr, amr)`` for a set of proven methods."""
    level, amr = _strength(names)
    return (levels.simple, levels.strong, levels.phishing_resistant)[level], amr


def session_acr(session: Session, levels: AcrLevels) -> str:
    """The ``acr`` the proofs support: phishing-resistant SCA, SCA, or simple."""
    level = _strength(session.methods)[0]
    return (levels.simple, levels.strong, levels.phishing_resistant)[level]


def session_amr(session: Session) -> tuple[str, ...]:
    """The RFC 8176 ``amr`` values of the proofs, plus ``mfa`` when the session is strong."""
    return _strength(session.methods)[1]


def session_claims(session: Session, levels: AcrLevels) -> tuple[str, tuple[str, ...]]:
    """``(acr, amr)`` of a session, for tokens (OIDC) and decisions."""
    return claims(session.methods, levels)
