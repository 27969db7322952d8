"""Completing a step-up (:func:`complete_step_up`): a verified step-up becomes proofs and,
where the operation needs one, a single-use grant bound to it. Pure.

Re-exported by :mod:`securebox_auth.policy.operations` (ADR 0019).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from securebox_auth.clock import require_aware
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.methods import METHODS, categories_from_mask, category_mask
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.decision import Allow, Challenge, Deny, Fired, Reason
from securebox_auth.policy.grounds import _LINK, _ONCE, _SCA, _blocked, _cite
from securebox_auth.policy.model import Linking, Policy
from securebox_auth.policy.operation_rules import OperationOutcome, _decide_fresh, _session_denied
from securebox_auth.policy.session import Grant, Session, with_grant, with_proofs

__all__ = ["complete_step_up"]


def complete_step_up(
    policy: Policy,
    session: Session,
    challenge: Challenge,
    *,
    principal: Principal,
    methods: Sequence[str],
    now: datetime,
    lockout: LockoutState | None = None,
    grant_id: str = "",
) -> OperationOutcome:
    """Record a step-up: ``principal`` proved ``methods`` at ``now`` for ``challenge``
    (issued by :func:`decide_operation` for ``session``).

    On success the session carries the proofs and, for a single-use operation, a grant bound
    to the operation, the principal and the challenge's digest, named ``grant_id`` (the
    shell's random identifier: assertions carry it, and a verifier spends each grant once).
    The step-up of one principal never serves another's session.
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
        id=grant_id,
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
