"""Enrolment through the entry point: each method delegates to the factor's service
(:mod:`securebox_auth.shell.totp`, ``passkeys``, ``certificates``, ``cap``, ``oob``,
``recovery``) for the principal of a live session that proved strong authentication
recently, and only for a method the policy accepts somewhere (ADR 0016, "Enrolment").

The rule (:meth:`EnrolmentShell.enrolling`): the session is live (not timed out, not ended
by ``end_all``) and its proofs cover ``min_categories`` categories of ``methods``, the
latest of them at most ``max_age`` old, where the three come from the policy's
``factor_enrolment`` operation when it lists one, else two categories of any method within
:data:`ENROL_MAX_AGE` (OWASP ASVS 5 7.5.1, NIST SP 800-63B-4 sec. 4.1.2: authenticate at
the level of the authenticator being bound). A refusal is audited ``enrolment.refused``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import ConfigurationError, NotPermitted, StepUpNeeded
from securebox_auth.factors.oob import Channel
from securebox_auth.policy.session_ids import session_ref
from securebox_auth.shell.certificates import ENROL_PURPOSE
from securebox_auth.shell.flow_base import ShellBase

if TYPE_CHECKING:
    from securebox_auth.crypto.keys import KeyProvider
    from securebox_auth.entitlements.accounts import Operator
    from securebox_auth.factors.cap import CapRequest, CardParameters
    from securebox_auth.factors.certificate import CertChallenge
    from securebox_auth.factors.recovery import RevealedCodes
    from securebox_auth.factors.totp import TotpEnrolment
    from securebox_auth.identity import Principal
    from securebox_auth.shell.base import FactorResult

__all__ = ["ENROL_MAX_AGE", "ENROL_OPERATION", "EnrolmentShell"]

#: The operation whose rule, when the policy lists it, says what an enrolment needs.
ENROL_OPERATION: Final = "factor_enrolment"
#: How recent the strong authentication of the session must be, when the policy does not
#: list :data:`ENROL_OPERATION`.
ENROL_MAX_AGE: Final = timedelta(minutes=15)
#: Recovery codes are for account recovery: a policy need not accept them anywhere.
_ALWAYS: Final = frozenset({"recovery_code"})


class EnrolmentShell(ShellBase):
    def enrolling(self, session_id: str, methods: Sequence[str]) -> Principal:
        """The principal of ``session_id`` when it may enrol one of ``methods`` now, else
        :class:`~securebox_auth.errors.NotAuthenticated` (no live session),
        :class:`~securebox_auth.errors.StepUpNeeded` (not strong, or not recently) or
        :class:`~securebox_auth.errors.NotPermitted` (the policy accepts none of
        ``methods``). Does not count as activity."""
        session = self.live_session(session_id).value
        now = self.clock.now()
        policy = self.policy
        rule = policy.operation(ENROL_OPERATION)
        if rule is None:
            accepted, categories, max_age = None, 2, ENROL_MAX_AGE
        else:
            accepted, categories, max_age = rule.methods, rule.min_categories, rule.max_age
        used = set(policy.login.methods)
        for rule_ in policy.operations:
            used.update(rule_.methods)
        why = None
        if not any(m in used or m in _ALWAYS for m in methods):
            why = "method_not_in_policy"
        else:
            strong_at = session.sca_time(accepted=accepted, min_categories=categories)
            if strong_at is None or now - strong_at > max_age:
                why = "not_recently_strong"
        if why is None:
            return session.principal
        who = session.principal.key
        event = AuditEvent.make(
            now, "enrolment.refused", actor=who, subject=who, outcome="failure",
            details={"reason": why, "method": methods[0], "session": session_ref(session_id)},
        )  # fmt: skip
        self.store.commit([], [event])
        if why == "method_not_in_policy":
            raise NotPermitted(f"the policy accepts no {methods[0]}: nothing to enrol")
        raise StepUpNeeded(rule, "adding a factor needs a recent strong authentication")

    # -- TOTP ---------------------------------------------------------------------------------

    def enrol_totp(
        self, session_id: str, *, issuer: str = "securebox", replace: bool = False
    ) -> TotpEnrolment:
        """A new TOTP seed for the session's principal (stored wrapped, unconfirmed): show
        its QR code or ``uri``, then :meth:`confirm_totp` with the first code. A confirmed
        seed is replaced only with ``replace=True``. Audited ``totp.enrol``."""
        principal = self.enrolling(session_id, ("totp",))
        return self.factors.totp.begin_enrolment(principal, issuer=issuer, replace=replace)

    def enrol_first_totp(
        self, operator: Operator, principal: Principal, *, issuer: str = "securebox"
    ) -> TotpEnrolment:
        """The back office's TOTP enrolment at subscription, before any session (the first
        access is then completed by TOTP, RTS art. 10(2)(a)): refused (NotPermitted) when
        the principal has a confirmed seed already. Audited ``totp.enrol`` with the operator
        as actor."""
        return self.factors.totp.begin_enrolment(principal, issuer=issuer, actor=operator.key)

    def confirm_totp(self, principal: Principal, code: str) -> bool:
        """Finish a TOTP enrolment with the first code (the code is the proof: no session
        needed). A wrong code counts as a failed attempt."""
        return self.factors.confirm_totp(principal, code).ok

    # -- passkeys -----------------------------------------------------------------------------

    def begin_passkey_registration(
        self,
        session_id: str,
        *,
        user_name: str,
        display_name: str,
        require_uv: bool = True,
        discoverable: bool = True,
    ) -> tuple[dict[str, Any], str]:
        """The options for ``navigator.credentials.create`` and the ceremony id."""
        principal = self.enrolling(session_id, ("passkey_uv", "passkey_no_uv"))
        options, ceremony = self.factors.passkeys.begin_registration(
            principal, user_name=user_name, display_name=display_name,
            require_uv=require_uv, discoverable=discoverable,
        )  # fmt: skip
        return options, ceremony.id

    def finish_passkey_registration(
        self,
        session_id: str,
        ceremony_id: str,
        response: str | bytes | Mapping[str, Any],
        *,
        name: str = "Passkey",
    ) -> FactorResult:
        """Add the passkey of the browser's ``credential.toJSON()``; a credential id
        registered to anyone already is refused (``duplicate_credential``)."""
        principal = self.enrolling(session_id, ("passkey_uv", "passkey_no_uv"))
        return self.factors.passkeys.finish_registration(
            principal, ceremony_id, response, name=name
        )

    # -- certificates -------------------------------------------------------------------------

    def certificate_enrolment_challenge(self, session_id: str) -> CertChallenge:
        """A challenge for the certificate's key to sign (purpose ``certificate.enrol``,
        audience the entry point's issuer)."""
        principal = self.enrolling(session_id, ("certificate", "smartcard_pin"))
        return self.factors.certificates.issue_challenge(
            principal, purpose=ENROL_PURPOSE, audience=self.issuer
        )

    def enrol_certificate(
        self,
        session_id: str,
        challenge_id: str,
        certificate: bytes | str,
        signature: bytes,
        *,
        intermediates: Sequence[bytes | str] = (),
    ) -> FactorResult:
        """Enrol ``certificate`` (PEM or DER), proved by ``signature`` over the challenge,
        checked against ``from_policy(certificates=...)``."""
        principal = self.enrolling(session_id, ("certificate", "smartcard_pin"))
        settings = self.certificates
        if settings is None:
            raise ConfigurationError("certificates need from_policy(certificates=...)")
        return self.factors.certificates.enrol(
            principal, challenge_id, certificate, signature, audience=self.issuer,
            trust=settings.trust, revocation=settings.revocation, intermediates=intermediates,
        )  # fmt: skip

    # -- CAP ----------------------------------------------------------------------------------

    def bind_cap_card(
        self,
        session_id: str,
        *,
        card_id: str,
        pan: str,
        psn: str,
        parameters: CardParameters,
        pan_keys: KeyProvider,
        code: str,
        request: CapRequest | None = None,
        last_atc: int | None = None,
    ) -> FactorResult:
        """Bind a CAP card, proved by a first valid code of it (Identify by default)."""
        principal = self.enrolling(session_id, ("cap_identify", "cap_respond", "cap_sign"))
        return self.factors.cap.bind_card(
            principal, card_id=card_id, pan=pan, psn=psn, parameters=parameters,
            pan_keys=pan_keys, code=code, request=request, last_atc=last_atc,
        )  # fmt: skip

    # -- out-of-band destinations -------------------------------------------------------------

    def begin_destination(self, session_id: str, *, channel: Channel, destination: str) -> str:
        """Send a code to a new destination through the channel's gateway; the challenge
        id for :meth:`confirm_destination`."""
        principal = self.enrolling(session_id, (channel.method.name,))
        gateway = self.gateways.get(channel.value)
        if gateway is None:
            raise ConfigurationError(f"no gateway for {channel.value}: from_policy(gateways=...)")
        issued = self.factors.oob.begin_destination(
            principal, channel=channel, destination=destination, gateway=gateway
        )
        if not issued.ok or issued.challenge is None:
            raise NotPermitted(f"no code sent now: {issued.reason}")
        return issued.challenge.id

    def confirm_destination(
        self, session_id: str, challenge_id: str, code: str, *, channel: Channel, destination: str
    ) -> FactorResult:
        """Store the destination as verified when the code sent there comes back."""
        principal = self.enrolling(session_id, (channel.method.name,))
        return self.factors.oob.confirm_destination(
            principal, challenge_id, code, channel=channel, destination=destination
        )

    def register_destination(
        self,
        actor: Operator | Principal,
        principal: Principal,
        *,
        channel: Channel,
        destination: str,
    ) -> None:
        """The bank's registration of ``principal``'s phone number or e-mail address, before
        any session (like :meth:`enrol_first_totp`): by its back office or by an administrator
        of the subscription adding the user (the bank's guide: the codes go to the mobile
        registered for the user). Stored as verified, audited ``oob.destination.register``
        with ``actor``; the first access can then be completed by a code sent there."""
        self.factors.oob.register_destination(
            principal, channel=channel, destination=destination, actor=actor.key
        )

    # -- recovery codes -----------------------------------------------------------------------

    def generate_recovery_codes(self, session_id: str) -> RevealedCodes:
        """A fresh set of recovery codes (the previous set stops working), shown once."""
        principal = self.enrolling(session_id, ("recovery_code",))
        return self.factors.recovery.generate(principal)
