"""The decisions on operations: step-up per sensitive operation, and its completion.

* :func:`decide_operation` applies the step-up rule of each sensitive operation: the proofs
  must be fresh enough, or for "this operation only" operations a step-up grant must exist for
  this operation, this principal and (when linked) exactly this amount and payee or batch; the
  grant is consumed.
* :func:`complete_step_up` turns a verified step-up into proofs and, where needed, a grant.

Pure, like :mod:`securebox_auth.policy.engine`, which re-exports both: ``now`` and every state
come in, and each function returns the decision with the new state.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from securebox_auth.clock import require_aware
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Principal
from securebox_auth.lockout import BlockStatus, LockoutState, block_status
from securebox_auth.methods import METHODS, categories_from_mask, category_mask
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
from securebox_auth.policy.model import Linking, OperationRule, Policy, Unlisted
from securebox_auth.policy.session import (
    Grant,
    Session,
    expiry,
    touch,
    with_grant,
    with_proofs,
)

__all__ = ["OperationOutcome", "complete_step_up", "decide_operation"]


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


def complete_step_up(
    policy: Policy,
    session: Session,
    challenge: Challenge,
    *,
    principal: Principal,
    methods: Sequence[str],
    now: datetime,
    lockout: LockoutState | None = None,
) -> OperationOutcome:
    """Record a step-up: ``principal`` proved ``methods`` at ``now`` for ``challenge``
    (issued by :func:`decide_operation` for ``session``).

    On success the session carries the proofs and, for a single-use operation, a grant bound
    to the operation, the principal and the challenge's digest. The step-up of one principal
    never serves another's session.
    """
    now = require_aware(now)
    denied = _blocked(lockout, now) or _session_denied(session, policy, now)
    if denied is not None:
        return OperationOutcome(denied, session)
    if not methods:
        raise MalformedInput("a step-up proves at least one method")
    category_mask(methods)
    if principal != session.principal or challenge.principal != session.principal:
        fired = Fired(
            "step_up.other_principal",
            "ASVS 5 8.2.2; PSD2 RTS art. 4(3)(c)",
            "a step-up by {principal} for a challenge of {challenged} cannot serve the "
            "session of {owner}",
            (
                ("principal", principal),
                ("challenged", challenge.principal),
                ("owner", session.principal),
            ),
        )
        return OperationOutcome(Deny(Reason.PRINCIPAL_MISMATCH, (fired,)), session)
    rule = policy.operation(challenge.operation) if challenge.operation else None
    if rule is None or not rule.sensitive:
        fired = Fired(
            "step_up.unknown_operation",
            "policy [operation]",
            "the challenge names {operation}, which is not a sensitive operation of this policy",
            (("operation", challenge.operation),),
        )
        return OperationOutcome(Deny(Reason.CHALLENGE_MISMATCH, (fired,)), session)
    facts: tuple[tuple[str, object], ...] = (
        ("operation", rule.name),
        ("methods", tuple(methods)),
        ("accepted", rule.methods),
    )
    age = now - challenge.issued_at
    if age > rule.max_age or age < timedelta(0):
        fired = Fired(
            "step_up.challenge_expired",
            rule.cites,
            "the challenge was issued {age} ago, more than max_age {max_age}",
            (*facts, ("age", age), ("max_age", rule.max_age)),
        )
        return OperationOutcome(Deny(Reason.CHALLENGE_EXPIRED, (fired,)), session)
    refused = [n for n in methods if n not in rule.method_names]
    if refused:
        fired = Fired(
            "step_up.method_not_accepted",
            _cite(rule.cites, f"policy operation.{rule.name}.methods"),
            "{refused} not accepted for {operation} (accepted: {accepted})",
            (*facts, ("refused", tuple(refused))),
        )
        return OperationOutcome(Deny(Reason.METHOD_NOT_ACCEPTED, (fired,)), session)
    session = with_proofs(session, methods, now)
    if not rule.single_use:
        return _decide_fresh(policy, rule, session, now, None)
    proven_mask = category_mask(methods)
    proven = categories_from_mask(proven_mask)
    if len(proven) < rule.min_categories:
        fired = Fired(
            "step_up.insufficient",
            _cite(rule.cites, _SCA),
            "{operation}: the step-up proved {categories}, fewer than {min_categories} categories",
            (*facts, ("categories", proven), ("min_categories", rule.min_categories)),
        )
        return OperationOutcome(Deny(Reason.STEP_UP_INSUFFICIENT, (fired,)), session)
    if rule.linking is not Linking.NONE and not any(METHODS[n].dynamic_linking for n in methods):
        fired = Fired(
            "step_up.linking_missing",
            _cite(rule.cites, _LINK),
            "{operation} is linked to {linking}: none of {methods} can carry dynamic linking",
            (*facts, ("linking", rule.linking)),
        )
        return OperationOutcome(Deny(Reason.LINKING_METHOD_MISSING, (fired,)), session)
    grant = Grant(
        operation=rule.name,
        principal=principal,
        digest=challenge.digest,
        issued_at=now,
        expires_at=now + rule.max_age,
        methods=tuple(methods),
    )
    fired = Fired(
        "step_up.granted",
        _cite(rule.cites, _ONCE),
        "{operation}: {categories} proven by {methods}; a single-use grant is issued "
        "until {expires_at}" + (", bound to digest {digest}" if challenge.digest else ""),
        (
            *facts,
            ("categories", proven),
            ("expires_at", grant.expires_at),
            ("digest", challenge.digest),
        ),
    )
    return OperationOutcome(Allow((fired,), operation=rule.name), with_grant(session, grant))
