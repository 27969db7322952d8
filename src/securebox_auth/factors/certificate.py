"""Certificates on a token or a smartcard: enrolment, challenge signature, mTLS proxies.

This module holds the mutual-TLS part and re-exports the others, so every name is importable
from here: enrolment is in :mod:`.cert_enrol`, the challenge in :mod:`.cert_challenge`.

* **Enrolment** (:func:`enrol_certificate`) binds a client certificate (PEM or DER) to a
  principal after checking it against the subscription's :class:`TrustSettings` and its
  revocation status. Refusals raise :class:`CertificateRejected` with a stable reason.
* **Login and step-up** (:func:`issue_cert_challenge`, :func:`verify_cert_challenge`): a
  random single-use challenge bound to the client identifier, the user number, the purpose
  (``"login"`` or an operation with its dynamic-linking digest), the audience and an expiry,
  as CAP Respond challenges are (:mod:`securebox_auth.factors.cap_request`). The token signs
  :meth:`CertChallenge.payload`; the verifier checks the signature with the enrolled
  certificate's key, that the certificate still chains to an anchor at ``now`` and is not
  revoked, and returns the challenge consumed (whatever the result) for the caller to store
  with compare-and-swap. A success proves possession (the key on the token) and knowledge
  (the PIN that unlocked it): :data:`~securebox_auth.factors.methods.CERTIFICATE` or
  :data:`~securebox_auth.factors.methods.SMARTCARD_PIN`.
* **Mutual TLS through a reverse proxy** (:func:`certificate_from_proxy`,
  :func:`verify_presented_certificate`): a forwarded certificate is only believed from a
  proxy named in :class:`ProxyTrust`; it then goes through the same checks (the TLS
  handshake was the proof of possession).

Every failed attempt is counted on the principal's lockout state through
:func:`~securebox_auth.factors.outcome.count_failure` (and so
:func:`~securebox_auth.lockout.attempts.register_failure`). Pure: no clock, no I/O, no randomness
except :func:`new_nonce`, which the shell calls.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from cryptography import x509

from securebox_auth.clock import require_aware
from securebox_auth.factors.cert_challenge import (
    CertChallenge,
    CertFailure,
    CertVerdict,
    check_method,
    finish_attempt,
    issue_cert_challenge,
    new_nonce,
    sign_payload_hash,
    verify_cert_challenge,
)
from securebox_auth.factors.cert_enrol import CertCredential, Revocation, enrol_certificate
from securebox_auth.factors.methods import CERTIFICATE, AuthMethod
from securebox_auth.factors.outcome import Outcome, refusal
from securebox_auth.factors.x509_trust import (
    CertificateRejected,
    TrustSettings,
    fingerprint,
    load_certificate,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutAlert, LockoutRules, LockoutState

__all__ = [
    "CertChallenge",
    "CertCredential",
    "CertFailure",
    "CertVerdict",
    "ProxyTrust",
    "Revocation",
    "certificate_from_proxy",
    "enrol_certificate",
    "issue_cert_challenge",
    "new_nonce",
    "sign_payload_hash",
    "verify_cert_challenge",
    "verify_presented_certificate",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyTrust:
    """The reverse proxies whose forwarded client certificates are believed.

    ``proxies`` holds their identities as the shell authenticates them (for instance the
    SHA-256 fingerprint of the certificate the proxy presents to the application, or a
    name bound to a Unix socket). Empty by default: no forwarded certificate is believed.
    """

    proxies: frozenset[str] = frozenset()


def certificate_from_proxy(
    forwarded: str, *, proxy_identity: str | None, proxy_trust: ProxyTrust
) -> x509.Certificate:
    """The client certificate a trusted proxy forwarded (URL-escaped or plain PEM, as nginx's
    ``$ssl_client_escaped_cert`` or Envoy's XFCC ``Cert=`` give it).

    Raises :class:`CertificateRejected` (``untrusted_proxy``) when ``proxy_identity`` is not
    in the allow-list: a header from anyone else is attacker-controlled."""
    if proxy_identity is None or not any(
        hmac.compare_digest(proxy_identity.encode(), p.encode()) for p in proxy_trust.proxies
    ):
        raise CertificateRejected("untrusted_proxy", "this proxy may not forward certificates")
    text = unquote(forwarded) if "%" in forwarded else forwarded
    return load_certificate(text.strip())


def verify_presented_certificate(
    credential: CertCredential | None,
    presented: x509.Certificate,
    lockout: LockoutState,
    principal: Principal,
    *,
    trust: TrustSettings,
    revocation: Revocation,
    now: datetime,
    lockout_rules: LockoutRules,
    path: str = "login",
    method: AuthMethod = CERTIFICATE,
) -> CertVerdict:
    """A login by a certificate from mutual TLS (through :func:`certificate_from_proxy`):
    it must be the one enrolled for ``principal``, chain at ``now`` and not be revoked."""
    check_method(method)
    now = require_aware(now)
    subject = principal.key
    action = f"{path}.{method.name}_mtls"
    refused = refusal(lockout, subject=subject, action=action, now=now)
    if refused is not None:
        text, event = refused
        return CertVerdict(
            Outcome.BLOCKED, CertFailure(text), None, lockout, LockoutAlert.NONE, (event,)
        )
    reason: CertFailure | None = None
    if credential is None or credential.subject != subject:
        reason = CertFailure.NOT_ENROLLED
    elif not hmac.compare_digest(fingerprint(presented), credential.fingerprint):
        reason = CertFailure.NOT_ENROLLED_CERTIFICATE
    return finish_attempt(
        reason,
        credential,
        None,
        lockout,
        trust=trust,
        revocation=revocation,
        now=now,
        subject=subject,
        action=action,
        lockout_rules=lockout_rules,
        method=method,
    )
