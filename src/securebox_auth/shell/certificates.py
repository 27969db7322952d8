"""Client certificates on a store: single-use challenges, signatures over them, and the
enrolment of a certificate with proof of possession (a signature over a server challenge
made with the certificate's key, checked before anything is stored)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final, Unpack

from cryptography import x509

from securebox_auth.audit import AuditEvent
from securebox_auth.factors.certificate import (
    CertChallenge,
    CertCredential,
    Revocation,
    enrol_certificate,
    new_nonce,
    verify_cert_challenge,
    verify_presented_certificate,
)
from securebox_auth.factors.certificate import issue_cert_challenge as issue_core
from securebox_auth.factors.methods import CERTIFICATE as CERTIFICATE_METHOD
from securebox_auth.factors.methods import AuthMethod
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.x509_trust import TrustSettings
from securebox_auth.identity import Principal
from securebox_auth.shell.base import (
    DEFAULT_ITEM,
    FactorResult,
    FactorShell,
    ShellOptions,
    Step,
    Write,
)
from securebox_auth.shell.retry import Attempt
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore, PutFactorState

__all__ = ["ENROL_PURPOSE", "CertificateService"]

#: The purpose of the challenge a certificate being enrolled signs.
ENROL_PURPOSE: Final = "certificate.enrol"


class CertificateService(FactorShell):
    """Certificates of the principals of ``store``. Trust anchors and revocation data are
    the caller's, passed at each call (never stored)."""

    def __init__(self, store: AuthStore, **options: Unpack[ShellOptions]) -> None:
        super().__init__(store, **options)

    def issue_challenge(
        self,
        principal: Principal,
        *,
        purpose: str,
        audience: str,
        digest: str | None = None,
        lifetime: timedelta = timedelta(minutes=2),
        challenge_id: str | None = None,
    ) -> CertChallenge:
        """A single-use challenge for the principal's token to sign, stored (version 0,
        kind ``cert_challenge``) under its id; the same whether or not the principal has a
        certificate. For an enrolment, ``purpose`` is :data:`ENROL_PURPOSE`."""
        chosen = challenge_id or secrets.token_urlsafe(16)
        nonce = new_nonce()

        def attempt(now: datetime) -> Step[CertChallenge]:
            challenge, event = issue_core(
                principal, challenge_id=chosen, nonce=nonce, purpose=purpose,
                audience=audience, now=now, lifetime=lifetime, digest=digest,
            )  # fmt: skip
            document = fc.cert_challenge_to_dict(challenge)
            change = PutFactorState(principal, fc.CERT_CHALLENGE, chosen, 0, document)
            return [change], (event,), challenge

        return self._run(attempt)

    def enrol(
        self,
        principal: Principal,
        challenge_id: str,
        certificate: bytes | str,
        signature: bytes,
        *,
        audience: str,
        trust: TrustSettings,
        revocation: Revocation,
        intermediates: Sequence[bytes | str] = (),
    ) -> FactorResult:
        """Enrol ``certificate`` (PEM or DER) as the principal's, proved by ``signature``
        over the challenge ``challenge_id`` (issued with purpose :data:`ENROL_PURPOSE` and
        ``audience``) made with the certificate's key. The certificate must chain to
        ``trust``, be valid and not revoked
        (:class:`~securebox_auth.factors.x509_trust.CertificateRejected` otherwise); a wrong
        signature is refused and counted as a failed attempt, and nothing is stored. On
        success the certificate replaces the previous one, the challenge is consumed and
        ``certificate.enrol`` is audited, in one commit."""
        candidate, enrolled = enrol_certificate(
            principal, certificate, intermediates=intermediates, trust=trust,
            revocation=revocation, now=self.clock.now(),
        )  # fmt: skip
        return self._run(self._signed(
            principal, challenge_id, signature, ENROL_PURPOSE, audience, None, trust,
            revocation, "enrol", CERTIFICATE_METHOD, candidate, enrolled,
        ))  # fmt: skip

    def verify(
        self,
        principal: Principal,
        challenge_id: str,
        signature: bytes,
        *,
        trust: TrustSettings,
        revocation: Revocation,
        purpose: str,
        audience: str,
        digest: str | None = None,
        path: str = "login",
        method: AuthMethod = CERTIFICATE_METHOD,
    ) -> FactorResult:
        """Check a signature over a stored challenge with the enrolled certificate. The
        challenge comes back consumed, whatever the result, in the same commit as the
        lockout, so a signature is accepted once."""
        return self._run(self.decide(
            principal, challenge_id, signature, trust=trust, revocation=revocation,
            purpose=purpose, audience=audience, digest=digest, path=path, method=method,
        ))  # fmt: skip

    def decide(
        self,
        principal: Principal,
        challenge_id: str,
        signature: bytes,
        *,
        trust: TrustSettings,
        revocation: Revocation,
        purpose: str,
        audience: str,
        digest: str | None = None,
        path: str = "login",
        method: AuthMethod = CERTIFICATE_METHOD,
    ) -> Attempt[FactorResult]:
        """:meth:`verify` without its commit (a flow commits it with its own, ADR 0023)."""
        return self._signed(
            principal, challenge_id, signature, purpose, audience, digest, trust, revocation,
            path, method, None, None,
        )  # fmt: skip

    def verify_presented(
        self,
        principal: Principal,
        presented: x509.Certificate,
        *,
        trust: TrustSettings,
        revocation: Revocation,
    ) -> FactorResult:
        """A login by the certificate of a mutual-TLS handshake (forwarded by a trusted
        proxy): it must be the enrolled one, chain and not be revoked. A refusal counts on
        the lockout like a wrong signature."""
        return self._run(
            self.decide_presented(principal, presented, trust=trust, revocation=revocation)
        )

    def decide_presented(
        self,
        principal: Principal,
        presented: x509.Certificate,
        *,
        trust: TrustSettings,
        revocation: Revocation,
    ) -> Attempt[FactorResult]:
        """:meth:`verify_presented` without its commit (ADR 0023)."""
        key = (fc.CERTIFICATE, DEFAULT_ITEM)

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, [key])
            credential = read.decoded(*key, fc.cert_credential_from_dict)
            verdict = verify_presented_certificate(
                credential, presented, read.lockout.value, principal, trust=trust,
                revocation=revocation, now=now, lockout_rules=self.lockout_rules,
            )  # fmt: skip
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, verdict.method,
            )  # fmt: skip
            return read.changes(verdict.lockout, []), list(verdict.events), result

        return attempt

    def _signed(
        self,
        principal: Principal,
        challenge_id: str,
        signature: bytes,
        purpose: str,
        audience: str,
        digest: str | None,
        trust: TrustSettings,
        revocation: Revocation,
        path: str,
        method: AuthMethod,
        candidate: CertCredential | None,
        enrolled: AuditEvent | None,
    ) -> Attempt[FactorResult]:
        keys = [(fc.CERT_CHALLENGE, challenge_id), (fc.CERTIFICATE, DEFAULT_ITEM)]

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, keys)
            challenge = read.decoded(*keys[0], fc.cert_challenge_from_dict)
            credential = candidate or read.decoded(*keys[1], fc.cert_credential_from_dict)
            verdict = verify_cert_challenge(
                credential, challenge, read.lockout.value, principal, signature,
                purpose=purpose, audience=audience, digest=digest, trust=trust,
                revocation=revocation, now=now, lockout_rules=self.lockout_rules, path=path,
                method=method,
            )  # fmt: skip
            writes: list[Write] = []
            if challenge is not None and verdict.challenge is not None:
                writes.append((*keys[0], fc.cert_challenge_to_dict(verdict.challenge)))
            events = list(verdict.events)
            outcome = verdict.outcome
            if candidate is not None and enrolled is not None and verdict.ok:
                if read.active:  # no certificate for a missing or closed account
                    writes.append((*keys[1], fc.cert_credential_to_dict(candidate)))
                    events.append(enrolled)
                else:
                    outcome = Outcome.REJECTED
            result = self._result(
                outcome, principal, now, verdict.reason, verdict.lockout, verdict.alert,
                None if candidate is not None else verdict.method,
                digest=digest if outcome is Outcome.ACCEPTED else None,
            )  # fmt: skip
            return read.changes(verdict.lockout, writes), events, result

        return attempt
