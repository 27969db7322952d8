"""Passkeys and security keys (WebAuthn): ceremonies around python-fido2's server.

``Fido2Server`` checks the cryptography of a ceremony; it never sees a session or a store,
and leaves four things to its caller, which this module does as pure functions of
(stored state, browser response, ``now``):

* **the challenge, kept server-side and consumed once**: a :class:`Ceremony` is a typed value
  the shell stores under its opaque ``id``; every finish returns it consumed, so the same
  ceremony (and a replayed assertion) never succeeds twice;
* **the signature counter**: a counter that does not move forward flags a cloned
  authenticator (the credential is suspended); authenticators that always report 0 pass;
* **user verification** whenever the passkey must count as strong authentication
  (``passkey_uv``: possession + inherence) rather than possession alone (``passkey_no_uv``);
* **dynamic linking** (PSD2 RTS art. 5): for a sensitive operation the challenge is
  SHA-256 over the operation name, the digest of its data (amount and payee, or a batch,
  from :meth:`~securebox_auth.policy.linking.OperationRequest.digest`) and a random nonce;
  the finish recomputes it from the data about to be executed, so the assertion proves what
  the user approved.

fido2's plain ``ValueError`` s become :class:`~securebox_auth.factors.webauthn_fast.
PasskeyFailure` reasons (expected failures, counted on the shared lockout state) or
:class:`MalformedCredential` (unreadable input). Authentication uses the fast path of
:mod:`securebox_auth.factors.webauthn_fast` unless ``engine="fido2"`` is asked for.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Literal

from fido2 import cbor
from fido2.cose import CoseKey
from fido2.webauthn import AttestedCredentialData, AuthenticationResponse

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.methods import PASSKEY_NO_UV, PASSKEY_UV, AuthMethod
from securebox_auth.factors.outcome import Outcome, count_failure, refusal, success_event
from securebox_auth.factors.passkeys import (
    Ceremony,
    CeremonyKind,
    Passkey,
    PasskeySet,
    RelyingParty,
    UnknownPasskey,
    decoy_credential_ids,
    list_passkeys,
    reinstate_passkey,
    rename_passkey,
    revoke_passkey,
    usable_ids,
    uv_requirement,
)
from securebox_auth.factors.webauthn_fast import (
    FIDO2_PARSE_ERRORS,
    MalformedCredential,
    PasskeyFailure,
    as_mapping,
    b64url_encode,
    caller_checks,
    check_assertion,
    client_data,
    client_data_for_fido2,
    fido2_failure,
    parse_assertion,
)
from securebox_auth.factors.webauthn_options import request_options
from securebox_auth.factors.webauthn_register import (
    RegistrationVerdict,
    begin_registration,
    finish_registration,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import (
    Element,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    record_success,
)

#: The authenticator data flag BE, backup eligible (WebAuthn Level 3 section 6.1).
_FLAG_BE: Final = 0x08

__all__ = [
    "AuthenticationVerdict",
    "Ceremony",
    "CeremonyKind",
    "MalformedCredential",
    "Passkey",
    "PasskeyFailure",
    "PasskeySet",
    "RegistrationVerdict",
    "RelyingParty",
    "UnknownPasskey",
    "begin_authentication",
    "begin_registration",
    "fido2_failure",
    "finish_authentication",
    "finish_registration",
    "linked_challenge",
    "list_passkeys",
    "reinstate_passkey",
    "rename_passkey",
    "revoke_passkey",
]

_LINK_TAG: Final = b"securebox/webauthn/link/v1"


def linked_challenge(operation: str, digest: str, nonce: bytes) -> bytes:
    """The challenge of a dynamically linked ceremony (RTS art. 5(1)): SHA-256 over a
    domain tag, the operation name, the digest of its data and a nonce, each length-prefixed."""
    h = hashlib.sha256(_LINK_TAG)
    for part in (operation.encode(), digest.encode(), nonce):
        h.update(len(part).to_bytes(4, "big") + part)
    return h.digest()


def begin_authentication(
    rp: RelyingParty,
    principal: Principal,
    passkeys: PasskeySet | None,
    *,
    now: datetime,
    require_uv: bool = True,
    path: str = "login",
    operation: str | None = None,
    digest: str | None = None,
    decoys: KeyProvider | None = None,
) -> tuple[dict[str, Any], Ceremony]:
    """Start a login or a step-up: (options for ``navigator.credentials.get``, ceremony).

    With ``digest`` (the engine's :attr:`~securebox_auth.policy.decision.Challenge.digest`
    of a linked operation), the challenge is :func:`linked_challenge` of the operation, that
    digest and a fresh nonce. With ``decoys``, a principal without a usable passkey gets
    :func:`~securebox_auth.factors.passkeys.decoy_credential_ids` in ``allowCredentials``
    (stable per claimed principal), so the answer does not reveal who has enrolled; without
    it, an empty allow-list, which does (use ``decoys`` wherever the principal is not yet
    authenticated).
    """
    now = require_aware(now)
    nonce: bytes | None = None
    if digest is not None:
        if not operation:
            raise ConfigurationError("a linked ceremony names its operation")
        nonce = secrets.token_bytes(32)
        challenge = linked_challenge(operation, digest, nonce)
    else:
        challenge = secrets.token_bytes(32)
    allowed: Sequence[bytes] = usable_ids(passkeys)
    if not allowed and decoys is not None:
        allowed = decoy_credential_ids(decoys, rp.id, principal.key)
    # fido2's authenticate_begin, without its objects (:mod:`.webauthn_options`)
    options = request_options(
        rp_id=rp.id,
        challenge=challenge,
        credential_ids=allowed,
        user_verification=uv_requirement(require_uv),
        timeout=rp.server().timeout,
    )
    ceremony = Ceremony(
        id=secrets.token_urlsafe(24),
        kind=CeremonyKind.AUTHENTICATION,
        principal=principal.key,
        challenge=challenge,
        require_uv=require_uv,
        issued_at=now,
        expires_at=now + rp.ceremony_timeout,
        path=path,
        operation=operation,
        digest=digest,
        nonce=nonce,
    )
    return options, ceremony


@dataclass(frozen=True, slots=True)
class AuthenticationVerdict:
    outcome: Outcome
    reason: PasskeyFailure | None
    #: The passkeys to store (counter and last use moved, or a clone suspended).
    passkeys: PasskeySet | None
    #: The ceremony, consumed: store it (or delete it) whatever the outcome.
    ceremony: Ceremony
    lockout: LockoutState
    alert: LockoutAlert
    events: tuple[AuditEvent, ...]
    user_verified: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED

    @property
    def method(self) -> AuthMethod | None:
        """``passkey_uv`` (strong on its own) or ``passkey_no_uv`` (possession only)."""
        if not self.ok:
            return None
        return PASSKEY_UV if self.user_verified else PASSKEY_NO_UV


def _cose(encoded: bytes) -> CoseKey:
    fields = cbor.decode(encoded)
    if not isinstance(fields, Mapping):
        raise ConfigurationError("a stored passkey public key is corrupt")
    return CoseKey.parse(fields)


def _check_with_fido2(
    rp: RelyingParty,
    response: Mapping[str, Any],
    challenge: bytes,
    require_uv: bool,
    passkey: Passkey | None,
) -> tuple[PasskeyFailure | None, int, int]:
    try:
        parsed = AuthenticationResponse.from_dict(response)
    except FIDO2_PARSE_ERRORS:
        raise MalformedCredential("fido2 could not read the response") from None
    auth = parsed.response.authenticator_data
    credentials = []
    if passkey is not None:
        credentials.append(
            AttestedCredentialData.create(
                bytes(16), passkey.credential_id, _cose(passkey.public_key)
            )
        )
    state = {"challenge": b64url_encode(challenge), "user_verification": uv_requirement(require_uv)}
    try:
        rp.server().authenticate_complete(state, credentials, parsed)
    except ValueError as exc:
        return fido2_failure(exc), auth.flags, auth.counter
    client = client_data(bytes(parsed.response.client_data))
    return caller_checks(client, auth.flags, rp.top_origins), auth.flags, auth.counter


def finish_authentication(
    rp: RelyingParty,
    ceremony: Ceremony,
    passkeys: PasskeySet | None,
    lockout: LockoutState,
    principal: Principal,
    response: str | bytes | Mapping[str, Any],
    *,
    now: datetime,
    lockout_rules: LockoutRules,
    digest: str | None = None,
    engine: Literal["fast", "fido2"] = "fast",
) -> AuthenticationVerdict:
    """Check the browser's ``credential.toJSON()`` against ``ceremony``.

    ``digest`` is the digest of the operation's data **as it is about to be executed**;
    it must equal the one the ceremony was started with. Every failure is counted on
    ``lockout`` (the principal's shared state); the ceremony comes back consumed.
    """
    now = require_aware(now)
    data = as_mapping(response)
    parsed = parse_assertion(data)
    subject = principal.key
    action = f"{ceremony.path}.passkey"
    spent = ceremony.consumed(now)
    refused = refusal(lockout, subject=subject, action=action, now=now)
    if refused is not None:
        reason_text, event = refused
        return AuthenticationVerdict(
            Outcome.BLOCKED,
            PasskeyFailure(reason_text),
            passkeys,
            spent,
            lockout,
            LockoutAlert.NONE,
            (event,),
        )

    def fail(reason: PasskeyFailure, store: PasskeySet | None = passkeys) -> AuthenticationVerdict:
        outcome, record = count_failure(
            lockout,
            subject=subject,
            action=action,
            reason=reason.value,
            now=now,
            rules=lockout_rules,
            element=Element.PASSKEY,
        )
        return AuthenticationVerdict(
            outcome, reason, store, spent, record.state, record.alert, record.events
        )

    if ceremony.kind is not CeremonyKind.AUTHENTICATION or ceremony.principal != subject:
        return fail(PasskeyFailure.WRONG_CEREMONY)
    if ceremony.consumed_at is not None:
        return fail(PasskeyFailure.REPLAY)
    if now >= ceremony.expires_at or now < ceremony.issued_at:
        return fail(PasskeyFailure.EXPIRED)
    challenge = ceremony.challenge
    if ceremony.digest is not None:
        if digest is None or ceremony.operation is None or ceremony.nonce is None:
            return fail(PasskeyFailure.DATA_MISMATCH)
        challenge = linked_challenge(ceremony.operation, digest, ceremony.nonce)
        if challenge != ceremony.challenge:
            return fail(PasskeyFailure.DATA_MISMATCH)
    passkey = passkeys.find(parsed.raw_id) if passkeys is not None else None
    if passkey is not None and passkey.revoked_at is not None:
        return fail(PasskeyFailure.REVOKED)
    if passkey is not None and passkey.suspended_at is not None:
        return fail(PasskeyFailure.SUSPENDED)
    if engine == "fido2":
        client_data_for_fido2(parsed.client_data_json)  # before fido2 reads it
        failure, flags, counter = _check_with_fido2(
            rp, data, challenge, ceremony.require_uv, passkey
        )
    else:
        failure, flags, counter = check_assertion(
            parsed,
            rp_id_hash=rp.id_hash,
            origins=rp.origins,
            challenge=challenge,
            require_uv=ceremony.require_uv,
            public_key=passkey.public_key if passkey is not None else None,
            top_origins=rp.top_origins,
        )
    if failure is not None or passkey is None or passkeys is None:
        return fail(failure or PasskeyFailure.UNKNOWN_CREDENTIAL)
    if parsed.user_handle is not None and not hmac.compare_digest(
        parsed.user_handle, passkeys.user_handle
    ):
        # WebAuthn Level 3 section 7.2 step 6: a user handle, when sent, names the owner.
        return fail(PasskeyFailure.UNKNOWN_USER_HANDLE)
    if bool(flags & _FLAG_BE) is not passkey.backup_eligible:
        # WebAuthn Level 3 section 7.2: backup eligibility is fixed at the credential's
        # creation; an assertion that reports another value is not from that credential.
        return fail(PasskeyFailure.BAD_FLAGS)
    if not (counter == 0 and passkey.sign_count == 0) and counter <= passkey.sign_count:
        # The authenticator's counter went backwards or stood still: two copies of the key
        # exist (W3C WebAuthn section 6.1.1). The credential is suspended until reviewed.
        suspended = passkeys.replace(replace(passkey, suspended_at=now))
        verdict = fail(PasskeyFailure.COUNTER_REGRESSION, suspended)
        flagged = AuditEvent.make(
            now,
            "passkey.clone_suspected",
            actor="system",
            subject=subject,
            outcome="suspended",
            details={
                "passkey": passkey.label,
                "stored": str(passkey.sign_count),
                "received": str(counter),
            },
        )
        return replace(verdict, events=(*verdict.events, flagged))
    used = passkey.used(counter, now)
    verified = bool(flags & 0x04)
    details: tuple[tuple[str, str], ...] = ()
    if ceremony.digest is not None:
        details += (("digest", ceremony.digest),)
    if ceremony.operation is not None:
        details += (("operation", ceremony.operation),)
    details += (("passkey", used.label), ("uv", "true" if verified else "false"))
    event = success_event(now, action, subject, details)
    return AuthenticationVerdict(
        Outcome.ACCEPTED,
        None,
        passkeys.replace(used),
        spent,
        record_success(lockout, element=Element.PASSKEY),
        LockoutAlert.NONE,
        (event,),
        user_verified=verified,
    )
