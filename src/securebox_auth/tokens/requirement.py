"""What an operation needs from a signed assertion, and the check of it.

:meth:`AssertionRequirement.for_operation` hands the decision to the policy engine itself:
:func:`~securebox_auth.policy.engine.decide_operation` runs on the session the assertion
describes (its login, the time of each proof, its grants), so the check of an assertion is
never weaker than the engine's decision for the same operation (ADR 0013). Hand-built
requirements (``acr_values``, ``amr``, ``max_age``...) add conditions on top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from securebox_auth.errors import ConfigurationError
from securebox_auth.identity import Principal
from securebox_auth.policy.decision import Allow, Deny, StepUpRequired
from securebox_auth.policy.engine import decide_operation
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.policy.model import Policy
from securebox_auth.policy.session import Grant, Proof, Session
from securebox_auth.tokens.claims import TokenDenied, TokenError, TokenExpired

__all__ = [
    "AssertionGrant",
    "AssertionRequirement",
    "InsufficientAuthentication",
    "VerifiedAssertion",
    "satisfies",
]


class InsufficientAuthentication(TokenError):
    """The assertion is genuine but does not prove enough, or not recently enough, for the
    operation (ASVS 5.0 6.8.4). :meth:`www_authenticate` is the RFC 9470 challenge: the
    engine's own (``decision``) when the requirement came from the policy."""

    code = "insufficient_user_authentication"

    def __init__(
        self,
        message: str,
        requirement: AssertionRequirement,
        decision: StepUpRequired | None = None,
    ) -> None:
        super().__init__(message)
        self.requirement = requirement
        self.decision = decision

    @property
    def reason(self) -> str | None:
        """The engine's reason code (``not_strong``, ``proof_too_old``, ``no_grant``...)."""
        return None if self.decision is None else str(self.decision.reason)

    def www_authenticate(self) -> str:
        if self.decision is not None:
            return self.decision.www_authenticate()
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
class AssertionGrant:
    """A step-up grant carried by an assertion."""

    operation: str
    digest: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AssertionRequirement:
    """What an operation needs from an assertion. Empty: a genuine, unexpired assertion.

    :meth:`for_operation` (the way to build it) sets ``policy`` and ``request``: the policy
    engine then decides on the session the assertion describes, exactly as it would on the
    session itself. The other fields are extra conditions a service may add by hand."""

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
    #: The engine's decision for ``request`` under ``policy`` must be Allow.
    policy: Policy | None = None
    request: OperationRequest | None = None

    def __post_init__(self) -> None:
        if (self.policy is None) != (self.request is None):
            raise ConfigurationError("a requirement names both the policy and the request")

    @classmethod
    def for_operation(cls, policy: Policy, request: OperationRequest) -> AssertionRequirement:
        """The requirement of ``policy`` for ``request``: what ``decide_operation`` asks of
        a session, decided by ``decide_operation`` itself."""
        return cls(policy=policy, request=request)

    @property
    def consumes(self) -> bool:
        """True when the requirement spends a single-use grant: the assertion must then be
        used once (:class:`~securebox_auth.shell.token_verifier.AssertionVerifier` consumes its
        ``jti``)."""
        if self.operation is not None:
            return True
        if self.policy is None or self.request is None:
            return False
        rule = self.policy.operation(self.request.operation)
        return rule is not None and rule.sensitive and rule.single_use


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
    issued_at: datetime | None = None
    #: The session the assertion describes (login, proofs, grants), as the engine sees it.
    session: Session | None = field(default=None, repr=False)
    #: The single-use step-up grant the requirement spends (``None``: none): every
    #: assertion issued from a session carries its live grants, so the grant itself, not
    #: only this assertion's ``jti``, is what a verifier records as used.
    spent: Grant | None = None

    @property
    def proofs(self) -> tuple[Proof, ...]:
        return () if self.session is None else self.session.proofs


def satisfies(
    a: VerifiedAssertion, session: Session, r: AssertionRequirement, now: datetime
) -> Grant | None:
    """Raise unless ``a`` (describing ``session``) meets ``r`` at ``now``; the single-use
    grant it spends, if any."""
    spent: Grant | None = None
    if r.policy is not None and r.request is not None:
        decision = decide_operation(r.policy, session, r.request, now=now).decision
        if isinstance(decision, Allow):
            spent = decision.consumed
        if isinstance(decision, StepUpRequired):
            raise InsufficientAuthentication(
                f"{decision.reason}: {decision.description()}", r, decision
            )
        if isinstance(decision, Deny):
            text = f"{decision.reason}: {decision.fired[-1].sentence()}"
            if decision.reauthenticate:
                raise TokenExpired(text)
            raise TokenDenied(text)
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
    if r.operation is not None:
        if not _granted(a.grants, r.operation, r.digest, now):
            raise InsufficientAuthentication(f"no step-up grant for {r.operation}", r)
        spent = spent or next(
            g
            for g in session.grants
            if g.operation == r.operation and g.digest == r.digest and g.expires_at > now
        )
    return spent


def _granted(
    grants: Sequence[AssertionGrant], operation: str, digest: str | None, now: datetime
) -> bool:
    return any(
        g.operation == operation and g.digest == digest and g.expires_at > now for g in grants
    )
