"""Decisions narrow under ``mypy --strict`` (checked by mypy, not run by pytest).

``decision.kind`` is a ``Literal`` per class, so comparing it narrows the union, as a
``match`` on the classes does; ``assert_never`` proves that every kind was handled. Before
``kind`` was typed ``Literal``, each attribute access below was a ``union-attr`` error.
"""

from __future__ import annotations

from typing import Literal, assert_never, assert_type

import securebox_auth as sb


def status_line(decision: sb.Decision) -> str:
    """What a portal shows: the ``if`` form."""
    if decision.kind == "allow":
        assert_type(decision, sb.Allow)
        return f"ok {decision.acr} {' '.join(decision.amr)}"
    if decision.kind == "step_up":
        assert_type(decision, sb.StepUpRequired)
        digest: str | None = decision.challenge.digest
        return f"{decision.reason} {decision.challenge.methods} {digest}"
    if decision.kind == "deny":
        assert_type(decision, sb.Deny)
        return f"denied {decision.reason} relogin={decision.reauthenticate}"
    assert_never(decision)


def http_answer(decision: sb.Decision) -> tuple[int, str | None]:
    """The ``match`` form: class patterns, with attributes captured by keyword."""
    match decision:
        case sb.Allow(consumed=grant):
            return 200, None if grant is None else grant.digest
        case sb.StepUpRequired(challenge=challenge):
            return 401, challenge.digest
        case sb.Deny(reauthenticate=True):
            return 401, decision.www_authenticate()
        case sb.Deny():
            return 403, None
        case _:
            assert_never(decision)


def kinds(decision: sb.Decision) -> Literal["allow", "step_up", "deny"]:
    assert_type(sb.Allow.kind, Literal["allow"])
    assert_type(sb.StepUpRequired.kind, Literal["step_up"])
    assert_type(sb.Deny.kind, Literal["deny"])
    return decision.kind


def chained(decision: sb.Decision) -> bool:
    """The documented one-liners of docs/policy.md."""
    return (decision.kind == "step_up" and decision.reason == "no_grant") or (
        decision.kind == "allow" and decision.consumed is not None
    )


def digests(payment: sb.Payment, batch: sb.Batch, challenge: sb.Challenge) -> set[str]:
    """``digest`` is an attribute everywhere (``OperationRequest.digest_for(linking)`` is the
    one that needs an argument)."""
    assert_type(payment.digest, str)
    assert_type(batch.digest, str)
    assert_type(challenge.digest, str | None)
    request = sb.OperationRequest("sepa_instant_transfer", payment=payment)
    assert_type(request.digest_for(sb.Linking.AMOUNT_PAYEE), str | None)
    return {payment.digest, batch.digest}
