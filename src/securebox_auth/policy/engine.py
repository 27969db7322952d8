"""The decisions: pure functions of (policy, state, request, now).

* :func:`decide_login` applies the renewal rule (RTS art. 10, Coop@ccess guide): a login is strong
  when its methods prove two independent categories; a simple login (the confidential code) is
  allowed only when the last strong login of that principal **on that access channel** is at
  most ``every_days`` old, and never at the first access.
* :func:`decide_operation` applies the step-up rule of each sensitive operation: the proofs
  must be fresh enough, or for "this operation only" operations a step-up grant must exist for
  this operation, this principal and (when linked) exactly this amount and payee or batch; the
  grant is consumed.
* :func:`complete_step_up` turns a verified step-up into proofs and, where needed, a grant.

Nothing here reads a clock, a store or the network: ``now`` and every state come in, and each
function returns the decision with the **new state** for the shell to store with
compare-and-swap. The renewal clock (``last_sca`` per principal and channel) is the shell's
to keep; :class:`LoginOutcome` says its next value.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from securebox_auth.clock import require_aware
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.methods import categories_from_mask, category_mask
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
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
    _ART10_FIRST,
    _ART10_RENEW,
    _SCA,
    _STRONG_MASKS,
    _ZERO,
    _blocked,
    _no_method,
    _offered,
)
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.policy.model import Policy
from securebox_auth.policy.operations import (
    OperationOutcome,
    complete_step_up,
    decide_operation,
)
from securebox_auth.policy.session import (
    Session,
    claims,
    login_session,
)

__all__ = [
    "LoginOutcome",
    "OperationOutcome",
    "OperationRequest",
    "complete_step_up",
    "decide_login",
    "decide_operation",
]


class LoginOutcome(NamedTuple):
    """The login decision, the session it opens (on Allow) and the next value of the renewal
    clock for this principal and channel: ``decision, session, last_sca = decide_login(...)``.
    """

    decision: Decision
    session: Session | None
    last_sca: datetime | None


def decide_login(
    policy: Policy,
    *,
    principal: Principal,
    channel: str,
    methods: Sequence[str],
    last_sca: datetime | None,
    now: datetime,
    lockout: LockoutState | None = None,
    enrolled: Collection[str] | None = None,
) -> LoginOutcome:
    """Decide a login whose ``methods`` were all verified at ``now``.

    ``last_sca`` is the time of the last strong login of ``principal`` on ``channel`` (``None``
    for the first access); ``lockout`` the principal's lockout state; ``enrolled`` the
    methods the user has, to offer only those in a step-up.
    """
    if now.tzinfo is not UTC:
        now = require_aware(now)
    if lockout is not None and (denied := _blocked(lockout, now)) is not None:
        return LoginOutcome(denied, None, last_sca)
    names = tuple(dict.fromkeys(methods))
    if not names:
        raise MalformedInput("a login proves at least one method")
    mask = category_mask(names)
    accepted = policy.login.method_names
    for name in names:
        if name not in accepted:
            fired = Fired(
                "login.method_not_accepted",
                "policy [login] methods",
                "method {method} is not accepted at login (accepted: {accepted})",
                (("method", name), ("accepted", policy.login.methods)),
            )
            return LoginOutcome(Deny(Reason.METHOD_NOT_ACCEPTED, (fired,)), None, last_sca)
    proven = categories_from_mask(mask)
    if mask in _STRONG_MASKS:
        fired = Fired(
            "login.strong",
            _SCA,
            "strong authentication: {categories} proven by {methods}; the renewal clock "
            "of channel {channel} restarts",
            (("methods", names), ("categories", proven), ("channel", channel)),
        )
        acr, amr = claims(names, policy.acr)
        session = login_session(principal, channel, names, now)
        return LoginOutcome(Allow((fired,), acr=acr, amr=amr), session, now)

    renewal = policy.renewal.for_channel(channel)
    facts: tuple[tuple[str, object], ...] = (
        ("methods", names),
        ("categories", proven),
        ("channel", channel),
        ("every_days", renewal.every_days),
    )
    if renewal.every_login:
        fired = Fired(
            "renewal.every_login",
            "policy renewal.every_login (stricter than PSD2 RTS art. 10)",
            "this policy asks for strong authentication at every login on channel {channel}",
            facts,
        )
        reason = Reason.EVERY_LOGIN
    elif last_sca is None:
        fired = Fired(
            "renewal.first_access",
            _ART10_FIRST,
            "first access on channel {channel}: strong authentication is required; "
            "{methods} proved only {categories}",
            facts,
        )
        reason = Reason.FIRST_ACCESS
    else:
        elapsed = now - last_sca
        facts += (("last_sca", last_sca), ("elapsed", elapsed))
        if elapsed < _ZERO:
            fired = Fired(
                "renewal.clock_in_future",
                _ART10_RENEW,
                "the recorded last strong authentication ({last_sca}) is in the future: "
                "it is not trusted",
                facts,
            )
            reason = Reason.RENEWAL_EXPIRED
        elif elapsed > renewal.period:
            fired = Fired(
                "renewal.expired",
                _ART10_RENEW,
                "the last strong authentication on channel {channel} was {elapsed} ago, "
                "more than {every_days} days",
                facts,
            )
            reason = Reason.RENEWAL_EXPIRED
        else:
            session = login_session(principal, channel, names, now)
            fired = Fired(
                "renewal.recent",
                _ART10_RENEW,
                "simple login allowed: the last strong authentication on channel {channel} "
                "was {elapsed} ago, within {every_days} days",
                facts,
            )
            acr, amr = claims(names, policy.acr)
            return LoginOutcome(Allow((fired,), acr=acr, amr=amr), session, last_sca)

    offered = _offered(policy.login.candidates, mask, enrolled)
    if not offered:
        return LoginOutcome(_no_method(fired, enrolled), None, last_sca)
    challenge = Challenge(
        principal=principal,
        operation=None,
        acr_values=(policy.acr.strong,),
        max_age=0 if renewal.every_login else None,
        methods=offered,
        issued_at=now,
    )
    return LoginOutcome(StepUpRequired(reason, offered, challenge, (fired,)), None, last_sca)
