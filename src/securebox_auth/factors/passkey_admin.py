"""Managing passkeys (list, rename, revoke, reinstate) and the credential descriptors of a
ceremony, with decoys for a principal that has none (no enumeration).

Re-exported by :mod:`securebox_auth.factors.passkeys` (ADR 0019).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from fido2.webauthn import (
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialType,
    UserVerificationRequirement,
)

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.passkey_model import (
    _DECOY_LENGTHS,
    _DECOY_TAG,
    Passkey,
    PasskeySet,
    UnknownPasskey,
)
from securebox_auth.factors.webauthn_fast import b64url_decode, b64url_encode

__all__ = [
    "PasskeyInfo",
    "decoy_credential_ids",
    "decoy_descriptors",
    "descriptors",
    "list_passkeys",
    "reinstate_passkey",
    "rename_passkey",
    "revoke_passkey",
    "usable_ids",
    "uv_requirement",
]


@dataclass(frozen=True, slots=True)
class PasskeyInfo:
    """What a "my passkeys" page shows."""

    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    status: str
    user_verified: bool
    backup_eligible: bool


def _status(p: Passkey) -> str:
    if p.revoked_at is not None:
        return "revoked"
    return "suspended" if p.suspended_at is not None else "active"


def list_passkeys(passkeys: PasskeySet | None) -> tuple[PasskeyInfo, ...]:
    if passkeys is None:
        return ()
    return tuple(
        PasskeyInfo(
            b64url_encode(p.credential_id),
            p.name,
            p.created_at,
            p.last_used_at,
            _status(p),
            p.user_verified,
            p.backup_eligible,
        )
        for p in passkeys.passkeys
    )


def check_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 64 or not name.isprintable():
        raise MalformedInput("a passkey name is 1 to 64 printable characters")
    return name.strip()


def _target(passkeys: PasskeySet | None, credential_id: str | bytes) -> tuple[PasskeySet, Passkey]:
    raw = credential_id if isinstance(credential_id, bytes) else b64url_decode(credential_id)
    found = passkeys.find(raw) if passkeys is not None else None
    if passkeys is None or found is None:
        raise UnknownPasskey("no such passkey")
    return passkeys, found


def _event(now: datetime, action: str, actor: str, subject: str, p: Passkey) -> AuditEvent:
    return AuditEvent.make(
        now, action, actor=actor, subject=subject, outcome="success", details={"passkey": p.label}
    )


def rename_passkey(
    passkeys: PasskeySet | None,
    credential_id: str | bytes,
    name: str,
    *,
    actor: str,
    subject: str,
    now: datetime,
) -> tuple[PasskeySet, AuditEvent]:
    now = require_aware(now)
    owned, found = _target(passkeys, credential_id)
    renamed = replace(found, name=check_name(name))
    return owned.replace(renamed), _event(now, "passkey.rename", actor, subject, renamed)


def revoke_passkey(
    passkeys: PasskeySet | None,
    credential_id: str | bytes,
    *,
    actor: str,
    subject: str,
    now: datetime,
) -> tuple[PasskeySet, AuditEvent]:
    """Revoke a lost or unwanted passkey (ASVS 5.0 6.5.6): it never authenticates again."""
    now = require_aware(now)
    owned, found = _target(passkeys, credential_id)
    revoked = found if found.revoked_at is not None else replace(found, revoked_at=now)
    return owned.replace(revoked), _event(now, "passkey.revoke", actor, subject, revoked)


def reinstate_passkey(
    passkeys: PasskeySet | None,
    credential_id: str | bytes,
    *,
    actor: str,
    subject: str,
    now: datetime,
) -> tuple[PasskeySet, AuditEvent]:
    """Lift a clone suspension after review (an administrator's decision, audited)."""
    now = require_aware(now)
    owned, found = _target(passkeys, credential_id)
    if found.revoked_at is not None:
        raise UnknownPasskey("a revoked passkey cannot be reinstated")
    lifted = replace(found, suspended_at=None)
    return owned.replace(lifted), _event(now, "passkey.reinstate", actor, subject, lifted)


def uv_requirement(required: bool) -> UserVerificationRequirement:
    """``required`` when the passkey must count as strong authentication, else
    ``preferred`` (the authenticator verifies the user if it can)."""
    return (
        UserVerificationRequirement.REQUIRED if required else UserVerificationRequirement.PREFERRED
    )


def usable_ids(passkeys: PasskeySet | None, *, include_suspended: bool = False) -> list[bytes]:
    """The ids of the credentials to name in ``allowCredentials`` (or
    ``excludeCredentials``): not revoked, and not suspended unless ``include_suspended``."""
    if passkeys is None:
        return []
    return [
        p.credential_id
        for p in passkeys.passkeys
        if p.revoked_at is None and (include_suspended or p.suspended_at is None)
    ]


def descriptors(
    passkeys: PasskeySet | None, *, include_suspended: bool = False
) -> list[PublicKeyCredentialDescriptor]:
    """:func:`usable_ids` as fido2's descriptors."""
    return [
        PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=credential_id)
        for credential_id in usable_ids(passkeys, include_suspended=include_suspended)
    ]


def decoy_credential_ids(keys: KeyProvider, rp_id: str, principal: str) -> tuple[bytes, ...]:
    """Plausible credential ids for a principal with no usable passkey (unknown, inactive,
    not enrolled, all revoked): one or two ids of common lengths, derived by HMAC-SHA256
    under the current key of ``keys`` from the rp id and the claimed principal, so the same
    claim always gets the same list and the answer does not tell who has enrolled (WebAuthn
    L3 section 14.6.2; ASVS 5.0 6.3.8). A key rotation changes every decoy at once."""
    key_id = keys.current_key_id
    seed = keys.mac(key_id, _DECOY_TAG + rp_id.encode() + b"\x00" + principal.encode())
    count = 2 if seed[0] % 4 == 0 else 1
    ids = []
    for index in range(count):
        length = _DECOY_LENGTHS[seed[1 + index] % len(_DECOY_LENGTHS)]
        material = b"".join(
            keys.mac(key_id, _DECOY_TAG + seed + bytes((index, block))) for block in (0, 1)
        )
        ids.append(material[:length])
    return tuple(ids)


def decoy_descriptors(
    keys: KeyProvider, rp_id: str, principal: str
) -> list[PublicKeyCredentialDescriptor]:
    """:func:`decoy_credential_ids` as ``allowCredentials`` entries."""
    return [
        PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=decoy)
        for decoy in decoy_credential_ids(keys, rp_id, principal)
    ]
