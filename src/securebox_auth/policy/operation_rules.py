"""Deciding a sensitive operation (:func:`decide_operation`): the proofs must be fresh
enough, or a single-use step-up grant must exist for this operation, this principal and
(when linked) exactly this amount and payee or batch; the grant is consumed. Pure.

Re-exported by :mod:`securebox_auth.policy.operations` (ADR 0019).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import NamedTuple

from securebox_auth.clock import require_aware
from securebox_auth.factors.methods import categories_from_mask
from securebox_auth.lockout.rules import BlockStatus, LockoutState, block_status
from securebox_auth.policy.decision import (
    Allow,
    Challenge,
    Decision,
    Deny,
    Fired,
    Reason,
    StepUpRequired,
)
from securebox_auth.policy.grounds import (
    _ART4_IDLE,
    _LINK,
    _ONCE,
    _SCA,
    _blocked,
    _cite,
    _no_method,
    _offered,
)
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.policy.model import OperationRule, Policy, Unlisted
from securebox_auth.policy.session import Grant, Session, expiry, touch

__all__ = ["OperationOutcome", "decide_operation"]


class OperationOutcome(NamedTuple):
    """The decision and the session to store (touched, grant consumed or invalidated):
    ``decision, session = decide_operation(...)``."""

    decision: Decision
    session: Session


def _session_denied(session: Session, policy: Policy, now: datetime) -> Deny | None:
    state = expiry(session, policy.session, now)
    if state is None:
        return None
    if state == "idle":
        fired = Fired(
            "session.idle",
            _ART4_IDLE,
            "the session was inactive for {inactive}, more than {idle_timeout}: log in again",
            (
                ("inactive", now - session.last_activity),
                ("idle_timeout", policy.session.idle_timeout),
                ("last_activity", session.last_activity),
            ),
        )
        return Deny(Reason.SESSION_IDLE, (fired,), reauthenticate=True)
    fired = Fired(
        "session.lifetime",
        "NIST SP 800-63B-4 sec. 2 (reauthentication); ASVS 5 7.3.2",
        "the session started {age} ago, more than its lifetime of {lifetime}: log in again",
        (("age", now - session.auth_time), ("lifetime", policy.session.absolute_lifetime)),
    )
    return Deny(Reason.SESSION_EXPIRED, (fired,), reauthenticate=True)


def decide_operation(
    policy: Policy,
    session: Session,
    request: OperationRequest,
    *,
    now: datetime,
    lockout: LockoutState | None = None,
    enrolled: Collection[str] | None = None,
) -> OperationOutcome:
    """Decide whether ``session`` may perform ``request`` at ``now``."""
    if now.tzinfo is not UTC:
        now = require_aware(now)
    rules = policy.session
    if (
        (lockout is not None and block_status(lockout, now) is not BlockStatus.OPEN)
        or now - session.last_activity > rules.idle_timeout
        or now - session.auth_time > rules.absolute_lifetime
    ):
        denied = _blocked(lockout, now) or _session_denied(session, policy, now)
        assert denied is not None
        return OperationOutcome(denied, session)
    name = request.operation
    rule = policy.operation(name)
    if rule is None or not rule.sensitive:
        live = touch(session, now)
    if rule is None:
        if policy.unlisted_operations is Unlisted.ALLOW:
            fired = Fired(
                "operation.unlisted_allowed",
                "policy unlisted_operations = allow",
                "{operation} is not listed; this policy allows unlisted operations",
                (("operation", name),),
            )
            return OperationOutcome(Allow((fired,), operation=name), live)
        fired = Fired(
            "operation.unlisted",
            "policy unlisted_operations = deny (ASVS 5 8.1.1)",
            "{operation} is not listed in the policy: denied by default",
            (("operation", name),),
        )
        return OperationOutcome(Deny(Reason.UNLISTED_OPERATION, (fired,)), live)
    if not rule.sensitive:
        fired = Fired(
            "operation.not_sensitive",
            rule.cites,
            "{operation} is not sensitive: a live session suffices",
            (("operation", name),),
        )
        return OperationOutcome(Allow((fired,), operation=name), live)
    if rule.single_use:
        return _decide_single_use(policy, rule, session, request, now, enrolled)
    return _decide_fresh(policy, rule, touch(session, now), now, enrolled)


def _decide_fresh(
    policy: Policy,
    rule: OperationRule,
    session: Session,
    now: datetime,
    enrolled: Collection[str] | None,
) -> OperationOutcome:
    sca = session.sca_time(accepted=rule.method_names, min_categories=rule.min_categories)
    if sca is not None and now - sca <= rule.max_age:
        fired = Fired(
            "operation.fresh_proof",
            rule.cites,
            "{operation}: {min_categories} categories proven {elapsed} ago by accepted "
            "methods, within max_age {max_age}",
            (
                ("operation", rule.name),
                ("min_categories", rule.min_categories),
                ("elapsed", now - sca),
                ("max_age", rule.max_age),
                ("proofs", session.proofs),
            ),
        )
        return OperationOutcome(Allow((fired,), operation=rule.name), session)
    fresh_mask = session.mask(accepted=rule.method_names, since=now - rule.max_age)
    fresh = categories_from_mask(fresh_mask)
    facts: tuple[tuple[str, object], ...] = (
        ("operation", rule.name),
        ("min_categories", rule.min_categories),
        ("max_age", rule.max_age),
        ("proofs", session.proofs),
        ("fresh_categories", fresh),
        ("accepted", rule.methods),
    )
    if sca is not None:
        fired = Fired(
            "operation.proof_too_old",
            _cite(rule.cites, _SCA),
            "{operation}: the strong authentication is {elapsed} old, more than max_age {max_age}",
            (*facts, ("elapsed", now - sca)),
        )
        reason = Reason.PROOF_TOO_OLD
    else:
        fired = Fired(
            "operation.not_strong",
            _cite(rule.cites, _SCA),
            "{operation} needs {min_categories} categories from accepted methods within "
            "{max_age}; the session proved {fresh_categories} (proofs: {proofs})",
            facts,
        )
        reason = Reason.NOT_STRONG
    offered = _offered(rule.candidates, fresh_mask, enrolled)
    if not offered:
        return OperationOutcome(_no_method(fired, enrolled), session)
    challenge = Challenge(
        principal=session.principal,
        operation=rule.name,
        acr_values=(policy.acr.strong,),
        max_age=int(rule.max_age.total_seconds()),
        methods=offered,
        issued_at=now,
    )
    return OperationOutcome(StepUpRequired(reason, offered, challenge, (fired,)), session)


def _decide_single_use(
    policy: Policy,
    rule: OperationRule,
    session: Session,
    request: OperationRequest,
    now: datetime,
    enrolled: Collection[str] | None,
) -> OperationOutcome:
    digest = request.digest_for(rule.linking)
    stale: list[Grant] = []
    mismatch: Grant | None = None
    expired: Grant | None = None
    for grant in session.grants:
        if grant.operation != rule.name:
            continue
        if grant.principal != session.principal:
            stale.append(grant)
        elif grant.digest != digest:
            mismatch = grant
            stale.append(grant)
        elif now > grant.expires_at or now < grant.issued_at:
            expired = grant
            stale.append(grant)
        else:
            fired = Fired(
                "grant.consumed",
                _cite(rule.cites, _ONCE),
                "{operation}: step-up with {methods} at {issued_at}, bound to this operation"
                + (" and to digest {digest}" if digest else "")
                + "; used once and consumed",
                (
                    ("operation", rule.name),
                    ("methods", grant.methods),
                    ("issued_at", grant.issued_at),
                    ("digest", digest),
                ),
            )
            decision = Allow((fired,), operation=rule.name, consumed=grant)
            remaining = tuple([g for g in session.grants if g is not grant])
            return OperationOutcome(decision, touch(session, now, grants=remaining))
    session = touch(session, now, grants=tuple([g for g in session.grants if g not in stale]))
    facts: tuple[tuple[str, object], ...] = (
        ("operation", rule.name),
        ("linking", rule.linking),
        ("digest", digest),
        ("accepted", rule.methods),
    )
    if mismatch is not None:
        fired = Fired(
            "grant.mismatch",
            _cite(rule.cites, _LINK),
            "{operation}: the step-up was bound to other data (digest {granted}); the "
            "amount, payee or batch changed, so it is invalidated",
            (*facts, ("granted", mismatch.digest)),
        )
        reason = Reason.GRANT_MISMATCH
    elif expired is not None:
        fired = Fired(
            "grant.expired",
            rule.cites,
            "{operation}: the step-up of {issued_at} is older than max_age {max_age}",
            (*facts, ("issued_at", expired.issued_at), ("max_age", rule.max_age)),
        )
        reason = Reason.GRANT_EXPIRED
    else:
        fired = Fired(
            "grant.missing",
            _cite(rule.cites, _ONCE),
            "{operation} needs strong authentication for this operation only"
            + (" (dynamically linked: {linking})" if digest else ""),
            facts,
        )
        reason = Reason.NO_GRANT
    candidates = rule.linked_candidates if digest is not None else rule.candidates
    offered = _offered(candidates, 0, enrolled)
    if not offered:
        return OperationOutcome(_no_method(fired, enrolled), session)
    challenge = Challenge(
        principal=session.principal,
        operation=rule.name,
        acr_values=(policy.acr.strong,),
        max_age=0,
        methods=offered,
        issued_at=now,
        linking=rule.linking,
        digest=digest,
        request=request,
    )
    return OperationOutcome(StepUpRequired(reason, offered, challenge, (fired,)), session)
