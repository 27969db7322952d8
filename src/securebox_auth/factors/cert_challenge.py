"""Login and step-up by a certificate: a single-use challenge the token signs.

:func:`issue_cert_challenge` binds a random challenge to the client identifier, the user
number, the purpose (``"login"`` or an operation with its dynamic-linking digest), the
audience and an expiry; :func:`verify_cert_challenge` checks the signature over
:meth:`CertChallenge.payload` with the enrolled certificate's key, that the certificate
still chains and is not revoked, and returns the challenge consumed (whatever the result).
Every failure is counted through :func:`~securebox_auth.factors.outcome.count_failure`.
Pure: no clock, no I/O, no randomness except :func:`new_nonce`, which the shell calls.
Re-exported by :mod:`securebox_auth.factors.certificate`.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import secrets
import struct
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.factors.cert_enrol import CertCredential, Revocation, checked_certificate
from securebox_auth.factors.methods import CERTIFICATE, SMARTCARD_PIN, AuthMethod
from securebox_auth.factors.outcome import Outcome, count_failure, refusal, success_event
from securebox_auth.factors.x509_trust import CertificateRejected, TrustSettings
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import (
    Element,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    record_success,
)

__all__ = [
    "CertChallenge",
    "CertFailure",
    "CertVerdict",
    "issue_cert_challenge",
    "new_nonce",
    "sign_payload_hash",
    "verify_cert_challenge",
]

_MAX_LIFETIME: Final = timedelta(minutes=10)
_DOMAIN: Final = b"securebox/cert-challenge/v1"
_NONCE_BYTES: Final = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class CertChallenge:
    """A single-use challenge for one principal, purpose and audience."""

    challenge_id: str
    client_id: str
    user_number: str
    nonce: bytes = field(repr=False)
    #: ``"login"`` or the operation name; ``digest`` binds it to the operation's data.
    purpose: str
    digest: str | None
    audience: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.nonce, bytes) or len(self.nonce) != _NONCE_BYTES:
            raise MalformedInput("a challenge nonce is 32 random bytes")
        for name in ("issued_at", "expires_at", "used_at"):
            moment = getattr(self, name)
            if moment is not None:
                object.__setattr__(self, name, require_aware(moment, name))

    @property
    def subject(self) -> str:
        return f"{self.client_id}:{self.user_number}"

    def payload(self) -> bytes:
        """The bytes the token signs: every binding, length-prefixed under a domain tag."""
        parts = (
            _DOMAIN,
            self.challenge_id.encode(),
            self.client_id.encode(),
            self.user_number.encode(),
            self.purpose.encode(),
            (self.digest or "").encode(),
            self.audience.encode(),
            self.nonce,
            self.expires_at.isoformat().encode(),
        )
        return b"".join(struct.pack(">H", len(p)) + p for p in parts)


def new_nonce() -> bytes:
    """32 random bytes for a challenge (the shell draws them; the core stays pure)."""
    return secrets.token_bytes(_NONCE_BYTES)


def issue_cert_challenge(
    principal: Principal,
    *,
    challenge_id: str,
    nonce: bytes,
    purpose: str,
    audience: str,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=2),
    digest: str | None = None,
) -> tuple[CertChallenge, AuditEvent]:
    """A challenge for ``principal`` to sign (``nonce`` from :func:`new_nonce`)."""
    now = require_aware(now)
    if not timedelta(0) < lifetime <= _MAX_LIFETIME:
        raise ConfigurationError("a certificate challenge lives more than 0 s and at most 10 min")
    if not purpose or not audience or not challenge_id:
        raise MalformedInput("a challenge names its id, purpose and audience")
    challenge = CertChallenge(
        challenge_id=challenge_id,
        client_id=principal.client_id.value,
        user_number=principal.user_number.value,
        nonce=nonce,
        purpose=purpose,
        digest=digest,
        audience=audience,
        issued_at=now,
        expires_at=now + lifetime,
    )
    event = AuditEvent.make(
        now,
        "certificate.challenge",
        actor="system",
        subject=principal.key,
        outcome="issued",
        details={"purpose": purpose, "challenge_id": challenge_id},
    )
    return challenge, event


class CertFailure(enum.Enum):
    """Why an attempt failed, for the audit trail only; never shown to the user."""

    NOT_ENROLLED = "not_enrolled"
    NO_CHALLENGE = "no_challenge"
    CHALLENGE_USED = "challenge_used"
    CHALLENGE_EXPIRED = "challenge_expired"
    WRONG_BINDING = "wrong_binding"
    BAD_SIGNATURE = "bad_signature"
    NOT_ENROLLED_CERTIFICATE = "not_enrolled_certificate"
    CERTIFICATE_INVALID = "certificate_invalid"
    REVOKED = "revoked"
    REVOCATION_UNKNOWN = "revocation_unknown"
    BLOCKED_TEMPORARILY = "blocked_temporarily"
    BLOCKED_PERMANENTLY = "blocked_permanently"


@dataclass(frozen=True, slots=True)
class CertVerdict:
    outcome: Outcome
    reason: CertFailure | None
    #: The challenge to store: consumed by any attempt that presented it.
    challenge: CertChallenge | None
    lockout: LockoutState
    alert: LockoutAlert
    events: tuple[AuditEvent, ...]
    method: AuthMethod | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


def sign_payload_hash(cert: x509.Certificate) -> hashes.HashAlgorithm | None:
    """The hash a token applies to :meth:`CertChallenge.payload` before signing with this
    certificate's key (``None`` for Ed25519, which signs the message itself)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1":
        return hashes.SHA384()
    if isinstance(key, ed25519.Ed25519PublicKey):
        return None
    return hashes.SHA256()


def _signature_ok(cert: x509.Certificate, signature: bytes, payload: bytes) -> bool:
    key = cert.public_key()
    digest = sign_payload_hash(cert)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and digest is not None:
            key.verify(signature, payload, ec.ECDSA(digest))
        elif isinstance(key, rsa.RSAPublicKey) and digest is not None:
            key.verify(signature, payload, padding.PKCS1v15(), digest)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, payload)
        else:
            return False
    except InvalidSignature:
        return False
    return True


@functools.cache
def _dummy_key() -> ec.EllipticCurvePublicKey:
    return ec.generate_private_key(ec.SECP256R1()).public_key()


def _dummy_work(signature: bytes, payload: bytes) -> None:
    with contextlib.suppress(InvalidSignature, ValueError):
        _dummy_key().verify(signature, payload, ec.ECDSA(hashes.SHA256()))


_REJECTIONS: Final = {
    "revoked": CertFailure.REVOKED,
    "revocation_unknown": CertFailure.REVOCATION_UNKNOWN,
}


def check_method(method: AuthMethod) -> None:
    if method not in (CERTIFICATE, SMARTCARD_PIN):
        raise ConfigurationError("a certificate proves the certificate or smartcard_pin method")


def finish_attempt(
    reason: CertFailure | None,
    credential: CertCredential | None,
    challenge: CertChallenge | None,
    lockout: LockoutState,
    *,
    trust: TrustSettings,
    revocation: Revocation,
    now: datetime,
    subject: str,
    action: str,
    lockout_rules: LockoutRules,
    method: AuthMethod,
) -> CertVerdict:
    if reason is None and credential is not None:
        try:
            checked_certificate(
                credential.certificate,
                credential.chain,
                trust=trust,
                revocation=revocation,
                now=now,
            )
        except CertificateRejected as exc:
            reason = _REJECTIONS.get(exc.reason, CertFailure.CERTIFICATE_INVALID)
    if reason is not None:
        outcome, record = count_failure(
            lockout,
            subject=subject,
            action=action,
            reason=reason.value,
            now=now,
            rules=lockout_rules,
            element=Element.CERTIFICATE,
        )
        return CertVerdict(outcome, reason, challenge, record.state, record.alert, record.events)
    details = (("fingerprint", credential.fingerprint if credential else ""),)
    event = success_event(now, action, subject, details)
    return CertVerdict(
        Outcome.ACCEPTED,
        None,
        challenge,
        record_success(lockout, element=Element.CERTIFICATE),
        LockoutAlert.NONE,
        (event,),
        method,
    )


def verify_cert_challenge(
    credential: CertCredential | None,
    challenge: CertChallenge | None,
    lockout: LockoutState,
    principal: Principal,
    signature: bytes,
    *,
    purpose: str,
    audience: str,
    digest: str | None = None,
    trust: TrustSettings,
    revocation: Revocation,
    now: datetime,
    lockout_rules: LockoutRules,
    path: str = "login",
    method: AuthMethod = CERTIFICATE,
) -> CertVerdict:
    """One attempt: ``signature`` over ``challenge.payload()`` by the enrolled key.

    ``purpose``, ``audience`` and ``digest`` are what the server expects *now* (the
    operation being authorised and its dynamic-linking digest); a challenge issued for
    anything else fails. Pass ``credential=None`` for a principal without a certificate and
    ``challenge=None`` for an unknown challenge id: the attempt fails and is counted alike.
    """
    check_method(method)
    now = require_aware(now)
    if not isinstance(signature, bytes):
        raise MalformedInput("a signature is bytes")
    subject = principal.key
    action = f"{path}.{method.name}"
    spent = challenge
    if challenge is not None and challenge.used_at is None:
        spent = replace(challenge, used_at=now)
    refused = refusal(lockout, subject=subject, action=action, now=now)
    if refused is not None:
        text, event = refused
        return CertVerdict(
            Outcome.BLOCKED, CertFailure(text), spent, lockout, LockoutAlert.NONE, (event,)
        )
    reason: CertFailure | None = None
    if challenge is None:
        reason = CertFailure.NO_CHALLENGE
    elif challenge.used_at is not None:
        reason = CertFailure.CHALLENGE_USED
    elif now >= challenge.expires_at or now < challenge.issued_at:
        reason = CertFailure.CHALLENGE_EXPIRED
    elif (
        challenge.subject != subject
        or challenge.purpose != purpose
        or challenge.audience != audience
        or challenge.digest != digest
    ):
        reason = CertFailure.WRONG_BINDING
    payload = challenge.payload() if challenge is not None else _DOMAIN
    if credential is None:
        _dummy_work(signature, payload)
        reason = reason or CertFailure.NOT_ENROLLED
    elif credential.subject != subject:
        reason = reason or CertFailure.NOT_ENROLLED
    elif reason is None and not _signature_ok(credential.certificate, signature, payload):
        reason = CertFailure.BAD_SIGNATURE
    return finish_attempt(
        reason,
        credential,
        spent,
        lockout,
        trust=trust,
        revocation=revocation,
        now=now,
        subject=subject,
        action=action,
        lockout_rules=lockout_rules,
        method=method,
    )
