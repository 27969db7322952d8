"""What a user answers to a flow, one type per kind of factor, and how the shell checks it.

:func:`decide_answer` takes the undecided attempt of the factor's service (their
``decide`` entries: ``ConfidentialCodeService.decide_login``, ``TotpService.decide``...) and
turns its result into a :class:`Verified` the pure flows take; the flows commit it with their
own step, in one commit (ADR 0023). Every verification is bound to the
flow: out-of-band codes, passkey ceremonies and certificate challenges were issued with the
flow id as their reference and, in a step-up, with the operation's digest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from cryptography import x509

from securebox_auth.audit import AuditEvent
from securebox_auth.emv.profiles import CapMode
from securebox_auth.errors import ChallengeNeeded, ConfigurationError, FlowOutOfOrder
from securebox_auth.factors.cap_request import CapRequest
from securebox_auth.factors.certificate import Revocation
from securebox_auth.factors.code import CodeOutcome
from securebox_auth.factors.methods import CERTIFICATE, SMARTCARD_PIN
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.x509_trust import TrustSettings
from securebox_auth.identity import Principal
from securebox_auth.policy.linking import OperationRequest, Payment
from securebox_auth.shell.retry import Attempt, commit_retrying
from securebox_auth.stores.protocols import Change

if TYPE_CHECKING:
    from securebox_auth.lockout.rules import LockoutState
    from securebox_auth.shell.base import FactorResult
    from securebox_auth.shell.code import LoginResult
    from securebox_auth.shell.flow_base import ShellBase

__all__ = [
    "Answer",
    "CapAnswer",
    "CertificateAnswer",
    "CertificateSettings",
    "CodeAnswer",
    "OobAnswer",
    "PasskeyAnswer",
    "PresentedCertificateAnswer",
    "RecoveryAnswer",
    "TotpAnswer",
    "Verified",
    "decide_answer",
    "verify_answer",
]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class CertificateSettings:
    """What certificate and smart-card logins are checked against."""

    trust: TrustSettings
    revocation: Revocation


@dataclass(frozen=True, slots=True)
class CodeAnswer:
    """The confidential code."""

    code: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TotpAnswer:
    code: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class OobAnswer:
    """A code received by SMS or e-mail for ``challenge_id`` (from ``send_login_code`` or
    ``send_step_up_code``)."""

    challenge_id: str
    code: str = field(repr=False)
    channel: Channel = Channel.SMS


@dataclass(frozen=True, slots=True)
class RecoveryAnswer:
    code: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CapAnswer:
    """A code of the CAP reader: Identify, or Respond over ``challenge_id`` (from
    ``login_cap_challenge``) at login; in a step-up, Sign, TDS or Respond over the challenge
    of ``step_up_cap_challenge`` (bound to the operation's digest), ``mode`` saying which."""

    card_id: str
    code: str = field(repr=False)
    challenge_id: str | None = None
    mode: CapMode = CapMode.SIGN


@dataclass(frozen=True, slots=True)
class PasskeyAnswer:
    """The ``navigator.credentials.get`` response for ``ceremony_id``."""

    ceremony_id: str
    response: str | bytes | Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class CertificateAnswer:
    """A signature of the certificate challenge ``challenge_id``; ``smartcard`` when a card
    made it after its PIN (method ``smartcard_pin``)."""

    challenge_id: str
    signature: bytes = field(repr=False)
    smartcard: bool = False


@dataclass(frozen=True, slots=True)
class PresentedCertificateAnswer:
    """The client certificate of a mutual-TLS handshake, as a trusted reverse proxy
    forwarded it (:func:`~securebox_auth.factors.certificate.certificate_from_proxy`): the
    handshake was the proof of possession. At login only: it is not bound to an
    operation, so a step-up refuses it."""

    certificate: x509.Certificate = field(repr=False)


Answer: TypeAlias = (
    CodeAnswer
    | TotpAnswer
    | OobAnswer
    | RecoveryAnswer
    | CapAnswer
    | PasskeyAnswer
    | CertificateAnswer
    | PresentedCertificateAnswer
)


@dataclass(frozen=True, slots=True)
class Verified:
    """A verification's result, as the flows take it."""

    ok: bool
    method: str
    blocked: bool = False
    change_required: bool = False
    digest: str | None = None
    #: The lockout state once the verification is committed (``None``: not known).
    lockout: LockoutState | None = None


def _from(result: FactorResult, method: str) -> Verified:
    name = result.method.name if result.ok and result.method is not None else method
    return Verified(
        result.ok,
        name,
        blocked=result.outcome is Outcome.BLOCKED,
        digest=result.digest,
        lockout=result.lockout,
    )


def _mapped(attempt: Attempt[R], verdict: Callable[[R], Verified]) -> Attempt[Verified]:
    """``attempt`` with its result turned into a :class:`Verified`."""

    def mapped(now: datetime) -> tuple[Sequence[Change], Sequence[AuditEvent], Verified]:
        changes, events, result = attempt(now)
        return changes, events, verdict(result)

    return mapped


def _factor(attempt: Attempt[FactorResult], method: str) -> Attempt[Verified]:
    return _mapped(attempt, lambda result: _from(result, method))


def _claimed(answer: Answer, *, linked: bool = False) -> str:
    """The method an answer claims (the offer is checked against it before verifying).
    ``linked``: in a step-up bound to a digest, where a CAP Sign, TDS or Respond code over
    the digest-linked challenge is the policy's ``cap_sign`` (the CAP method that carries
    dynamic linking)."""
    if isinstance(answer, CodeAnswer):
        return "confidential_code"
    if isinstance(answer, TotpAnswer):
        return "totp"
    if isinstance(answer, RecoveryAnswer):
        return "recovery_code"
    if isinstance(answer, CertificateAnswer):
        return SMARTCARD_PIN.name if answer.smartcard else CERTIFICATE.name
    if isinstance(answer, PresentedCertificateAnswer):
        return CERTIFICATE.name
    if isinstance(answer, PasskeyAnswer):
        return "passkey_uv"
    if isinstance(answer, CapAnswer):
        if linked and answer.mode is not CapMode.IDENTIFY:
            return "cap_sign"
        return {CapMode.IDENTIFY: "cap_identify", CapMode.RESPOND: "cap_respond"}.get(
            answer.mode, "cap_sign"
        )
    return answer.channel.method.name


def _need_challenge(answer: CapAnswer) -> str:
    if answer.challenge_id is None:
        raise ChallengeNeeded(
            f"a CAP {answer.mode.value} code in a step-up answers the challenge of "
            "step_up_cap_challenge (its digits are typed into the reader): ask for one first"
        )
    return answer.challenge_id


def _linked_cap(
    box: ShellBase,
    principal: Principal,
    answer: CapAnswer,
    digest: str,
    request: OperationRequest | None,
) -> Attempt[Verified]:
    """A CAP code over the challenge bound to the operation's ``digest``: Sign and TDS are
    presented with the payment (amount typed into the reader), Respond with the digest."""
    challenge_id = _need_challenge(answer)
    payment = None if request is None else request.payment
    if answer.mode is CapMode.RESPOND:
        linked: tuple[CapMode, Payment | str] = (CapMode.RESPOND, digest)
    elif payment is None:
        raise FlowOutOfOrder(
            f"a CAP {answer.mode.value} code types an amount: this operation has none, "
            "answer its challenge in Respond mode"
        )
    else:
        linked = (answer.mode, payment)
    attempt = box.factors.cap.decide(
        principal, answer.card_id, answer.code, challenge_id=challenge_id, linked=linked
    )

    def verdict(found: FactorResult) -> Verified:
        ok = found.ok and found.digest == digest
        blocked = found.outcome is Outcome.BLOCKED
        return Verified(ok, "cap_sign", blocked=blocked, digest=found.digest)

    return _mapped(attempt, verdict)


def certificate_purpose(purpose: str, request: OperationRequest | None) -> str:
    """A certificate challenge names ``login`` or the operation it is for."""
    return request.operation if purpose != "login" and request is not None else purpose


def verify_answer(
    box: ShellBase,
    principal: Principal,
    answer: Answer,
    *,
    purpose: str,
    reference: str,
    digest: str | None = None,
    request: OperationRequest | None = None,
) -> Verified:
    """Verify ``answer`` for ``principal`` through the services of ``box`` and commit the
    verification on its own (the flows commit :func:`decide_answer` with their step)."""
    attempt = decide_answer(
        box, principal, answer, purpose=purpose, reference=reference, digest=digest,
        request=request,
    )  # fmt: skip
    return commit_retrying(box.store, box.clock, attempt, what="principal")


def decide_answer(
    box: ShellBase,
    principal: Principal,
    answer: Answer,
    *,
    purpose: str,
    reference: str,
    digest: str | None = None,
    request: OperationRequest | None = None,
) -> Attempt[Verified]:
    """The verification of ``answer`` for ``principal``, undecided: ``attempt(now)`` reads
    the factor's state and the lockout, verifies, and returns the changes and events to
    commit with the flow's own (one commit per user step, ADR 0023). Each call of the
    attempt decides again from a fresh read: after a lost race a one-time value another
    request consumed is refused. The argon2 answer of one call is reused for the same
    stored hash only."""
    factors = box.factors
    if isinstance(answer, CodeAnswer):

        def code_verdict(result: LoginResult) -> Verified:
            return Verified(
                result.outcome in (CodeOutcome.ACCEPTED, CodeOutcome.CHANGE_REQUIRED),
                "confidential_code",
                blocked=result.outcome is CodeOutcome.BLOCKED,
                change_required=result.outcome is CodeOutcome.CHANGE_REQUIRED,
                lockout=result.lockout,
            )

        return _mapped(box.codes.decide_login(principal, answer.code), code_verdict)
    if isinstance(answer, TotpAnswer):
        path = "login" if purpose == "login" else "step_up"
        return _factor(factors.totp.decide(principal, answer.code, path=path), "totp")
    if isinstance(answer, RecoveryAnswer):
        return _factor(factors.recovery.decide(principal, answer.code), "recovery_code")
    if isinstance(answer, OobAnswer):
        found = factors.oob_codes.decide(
            principal, answer.challenge_id, answer.code, purpose, reference, digest
        )
        return _factor(found, answer.channel.method.name)
    if isinstance(answer, CapAnswer):
        if purpose != "login" and digest is not None and answer.mode is not CapMode.IDENTIFY:
            return _linked_cap(box, principal, answer, digest, request)
        if purpose != "login" and answer.mode is not CapMode.IDENTIFY:
            _need_challenge(answer)
        # An Identify code answers no challenge: the reader computed it over fixed data.
        identify = answer.mode is CapMode.IDENTIFY and answer.challenge_id is None
        cap = factors.cap.decide(
            principal,
            answer.card_id,
            answer.code,
            challenge_id=answer.challenge_id,
            request=CapRequest.identify() if identify else None,
        )
        return _factor(cap, _claimed(answer))
    if isinstance(answer, PasskeyAnswer):
        passkey = factors.passkeys.decide(
            principal, answer.ceremony_id, answer.response, digest=digest
        )
        return _factor(passkey, "passkey_uv")
    settings = box.certificates
    if settings is None:
        raise ConfigurationError("certificates need Securebox.from_policy(certificates=...)")
    if isinstance(answer, PresentedCertificateAnswer):
        if purpose != "login":
            raise FlowOutOfOrder("a certificate from mutual TLS proves a login, no operation")
        found = factors.certificates.decide_presented(
            principal, answer.certificate, trust=settings.trust, revocation=settings.revocation
        )
        return _factor(found, CERTIFICATE.name)
    method = SMARTCARD_PIN if answer.smartcard else CERTIFICATE
    signed = factors.certificates.decide(
        principal,
        answer.challenge_id,
        answer.signature,
        trust=settings.trust,
        revocation=settings.revocation,
        purpose=certificate_purpose(purpose, request),
        audience=box.issuer,
        digest=digest,
        path="login" if purpose == "login" else "step_up",
        method=method,
    )
    return _factor(signed, method.name)


claimed_method = _claimed
