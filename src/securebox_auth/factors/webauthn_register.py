"""Passkey registration: ``Fido2Server.register_begin`` / ``register_complete``, wrapped.

Registration happens inside a session that is already authenticated (and, for an account
that already has strong methods, stepped up: adding an authenticator is a change of
authentication attributes, ASVS 5.0 7.5.1). A failed registration is therefore not a guess
at a secret and is not counted on the lockout state; it is audited.

Attestation: securebox asks for none (``attestation: "none"``) and trusts no attestation
root; a statement that arrives anyway must be well-formed: ``none`` (empty) or ``packed``
(self attestation signed by the new credential, or a certificate whose signature is
checked without a trust decision). Other formats are refused.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from fido2 import cbor
from fido2.attestation.base import InvalidAttestation, NoneAttestation
from fido2.attestation.packed import PackedAttestation
from fido2.webauthn import (
    PublicKeyCredentialUserEntity,
    RegistrationResponse,
    ResidentKeyRequirement,
)

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.errors import ConfigurationError, NotPermitted
from securebox_auth.factors.passkey_admin import check_name
from securebox_auth.factors.passkeys import (
    Ceremony,
    CeremonyKind,
    Passkey,
    PasskeySet,
    RelyingParty,
    descriptors,
    uv_requirement,
)
from securebox_auth.factors.webauthn_fast import (
    FIDO2_PARSE_ERRORS,
    MalformedCredential,
    PasskeyFailure,
    as_mapping,
    b64url_decode,
    b64url_encode,
    caller_checks,
    client_data,
    client_data_for_fido2,
    credential_shape,
    fido2_failure,
    load_public_key,
)
from securebox_auth.identity import Principal

__all__ = ["RegistrationVerdict", "begin_registration", "finish_registration"]

_ATTESTATIONS: Final = {"none": NoneAttestation, "packed": PackedAttestation}


def begin_registration(
    rp: RelyingParty,
    principal: Principal,
    passkeys: PasskeySet | None,
    *,
    now: datetime,
    user_name: str,
    display_name: str,
    require_uv: bool = True,
    discoverable: bool = True,
) -> tuple[dict[str, Any], Ceremony, PasskeySet]:
    """Start adding a passkey: (options for ``navigator.credentials.create``, ceremony, the
    principal's passkey set, created with a random user handle when it had none)."""
    now = require_aware(now)
    owned = passkeys or PasskeySet.new()
    if len(owned.usable()) >= rp.max_passkeys:
        raise NotPermitted(f"at most {rp.max_passkeys} passkeys per user")
    challenge = secrets.token_bytes(32)
    user = PublicKeyCredentialUserEntity(
        name=check_name(user_name), id=owned.user_handle, display_name=check_name(display_name)
    )
    try:
        options, _ = rp.server().register_begin(
            user,
            descriptors(owned, include_suspended=True),
            resident_key_requirement=(
                ResidentKeyRequirement.PREFERRED
                if discoverable
                else ResidentKeyRequirement.DISCOURAGED
            ),
            user_verification=uv_requirement(require_uv),
            challenge=challenge,
        )
    except ValueError as exc:
        raise ConfigurationError(f"fido2 refused the options: {exc}") from None
    ceremony = Ceremony(
        id=secrets.token_urlsafe(24),
        kind=CeremonyKind.REGISTRATION,
        principal=principal.key,
        challenge=challenge,
        require_uv=require_uv,
        issued_at=now,
        expires_at=now + rp.ceremony_timeout,
        path="register",
    )
    return dict(options), ceremony, owned


@dataclass(frozen=True, slots=True)
class RegistrationVerdict:
    ok: bool
    reason: PasskeyFailure | None
    #: The set to store (with the new passkey on success).
    passkeys: PasskeySet | None
    passkey: Passkey | None
    #: The ceremony, consumed.
    ceremony: Ceremony
    events: tuple[AuditEvent, ...]


def _attestation_for_fido2(raw: bytes) -> None:
    """Refuse an ``attestationObject`` whose members have the wrong types before python-fido2
    reads it: fido2 builds ``authData`` with ``bytes(value)``, so a number there allocated that
    many bytes (found while fixing the same flaw in ``clientDataJSON``)."""
    try:
        fields = cbor.decode(raw)
    except FIDO2_PARSE_ERRORS:
        raise MalformedCredential("attestationObject is not CBOR") from None
    if not (
        isinstance(fields, Mapping)
        and type(fields.get("fmt")) is str
        and type(fields.get("authData")) is bytes
        and isinstance(fields.get("attStmt"), Mapping)
    ):
        raise MalformedCredential("attestationObject lacks fmt, authData or attStmt")


def finish_registration(
    rp: RelyingParty,
    ceremony: Ceremony,
    passkeys: PasskeySet | None,
    principal: Principal,
    response: str | bytes | Mapping[str, Any],
    *,
    now: datetime,
    name: str = "Passkey",
) -> RegistrationVerdict:
    """Check the browser's ``credential.toJSON()`` of ``navigator.credentials.create``."""
    now = require_aware(now)
    label = check_name(name)
    data = as_mapping(response)
    inner = credential_shape(data)
    client_data_for_fido2(b64url_decode(inner.get("clientDataJSON"), "clientDataJSON"))
    _attestation_for_fido2(b64url_decode(inner.get("attestationObject"), "attestationObject"))
    transports = inner.get("transports")
    if transports is not None and (
        type(transports) is not list or not all(type(t) is str for t in transports)
    ):
        raise MalformedCredential("transports is not a list of names")
    try:
        parsed = RegistrationResponse.from_dict(data)
    except FIDO2_PARSE_ERRORS:
        raise MalformedCredential("fido2 could not read the registration response") from None
    spent = ceremony.consumed(now)
    subject = principal.key

    def fail(reason: PasskeyFailure) -> RegistrationVerdict:
        event = AuditEvent.make(
            now,
            "passkey.register",
            actor=subject,
            subject=subject,
            outcome="failure",
            details={"reason": reason.value},
        )
        return RegistrationVerdict(False, reason, passkeys, None, spent, (event,))

    if ceremony.kind is not CeremonyKind.REGISTRATION or ceremony.principal != subject:
        return fail(PasskeyFailure.WRONG_CEREMONY)
    if ceremony.consumed_at is not None:
        return fail(PasskeyFailure.REPLAY)
    if passkeys is None:
        return fail(PasskeyFailure.WRONG_CEREMONY)
    if now >= ceremony.expires_at or now < ceremony.issued_at:
        return fail(PasskeyFailure.EXPIRED)
    state = {
        "challenge": b64url_encode(ceremony.challenge),
        "user_verification": uv_requirement(ceremony.require_uv),
    }
    try:
        auth_data = rp.server().register_complete(state, parsed)
    except ValueError as exc:
        return fail(fido2_failure(exc))
    embedding = caller_checks(
        client_data(bytes(parsed.response.client_data)), auth_data.flags, rp.top_origins
    )
    if embedding is not None:
        return fail(embedding)
    attestation = parsed.response.attestation_object
    verifier = _ATTESTATIONS.get(attestation.fmt)
    if verifier is None:
        return fail(PasskeyFailure.UNSUPPORTED_ATTESTATION)
    try:
        verifier().verify(attestation.att_stmt, auth_data, parsed.response.client_data.hash)
    except (InvalidAttestation, ValueError, KeyError, TypeError):
        return fail(PasskeyFailure.BAD_ATTESTATION)
    credential = auth_data.credential_data
    if credential is None:
        return fail(PasskeyFailure.INVALID)
    cose = cbor.encode(dict(credential.public_key))
    algorithm = credential.public_key.get(3)
    if algorithm not in rp.cose_algorithms:
        return fail(PasskeyFailure.UNSUPPORTED_ALGORITHM)
    try:
        load_public_key(cose)
    except ConfigurationError:
        return fail(PasskeyFailure.UNSUPPORTED_ALGORITHM)
    if passkeys.find(credential.credential_id) is not None:
        return fail(PasskeyFailure.DUPLICATE_CREDENTIAL)
    if len(passkeys.usable()) >= rp.max_passkeys:
        return fail(PasskeyFailure.INVALID)
    passkey = Passkey(
        credential_id=bytes(credential.credential_id),
        public_key=cose,
        algorithm=int(algorithm),
        name=label,
        created_at=now,
        sign_count=auth_data.counter,
        user_verified=auth_data.is_user_verified(),
        backup_eligible=auth_data.is_backup_eligible(),
        aaguid=str(uuid.UUID(bytes=bytes(credential.aaguid))),
        attestation=attestation.fmt,
    )
    event = AuditEvent.make(
        now,
        "passkey.register",
        actor=subject,
        subject=subject,
        outcome="success",
        details={
            "passkey": passkey.label,
            "uv": str(passkey.user_verified).lower(),
            "attestation": attestation.fmt,
        },
    )
    return RegistrationVerdict(True, None, passkeys.added(passkey), passkey, spent, (event,))
