"""The user's factors as the profile shows them, and their removal: reads of the library's
factor states and writes by compare-and-swap, each with its audit event in the same commit.
The decisions (rename, revoke) are the library's pure functions
(:mod:`securebox_auth.factors.passkey_admin`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.factors.passkeys import (
    PasskeyInfo,
    PasskeySet,
    list_passkeys,
    rename_passkey,
    revoke_passkey,
)
from securebox_auth.identity import Principal
from securebox_auth.shell.base import DEFAULT_ITEM
from securebox_auth.shell.retry import retrying
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import PutFactorState

__all__ = [
    "CertificateInfo",
    "certificate_of",
    "passkeys_of",
    "remove_certificate",
    "remove_totp",
    "rename",
    "revoke",
    "totp_status",
]


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    subject: str
    fingerprint: str
    enrolled_at: datetime


def _passkey_set(box: Securebox, principal: Principal) -> tuple[int, PasskeySet | None]:
    found = box.store.get_factor_state(principal, fc.PASSKEYS, DEFAULT_ITEM)
    if found is None:
        return 0, None
    return found.version, fc.passkeys_from_dict(found.value)


def passkeys_of(box: Securebox, principal: Principal) -> tuple[PasskeyInfo, ...]:
    """The principal's passkeys, revoked ones included (their status says so)."""
    return list_passkeys(_passkey_set(box, principal)[1])


Change = Callable[[PasskeySet | None, datetime], tuple[PasskeySet, AuditEvent]]


def _update(box: Securebox, principal: Principal, change: Change) -> None:
    def attempt() -> None:
        version, current = _passkey_set(box, principal)
        after, event = change(current, box.now())
        put = PutFactorState(
            principal, fc.PASSKEYS, DEFAULT_ITEM, version, fc.passkeys_to_dict(after)
        )
        box.store.commit([put], [event])

    retrying(attempt)


def rename(box: Securebox, principal: Principal, passkey: str, name: str) -> None:
    """Rename a passkey (UnknownPasskey, MalformedInput on a bad name)."""
    who = principal.key
    _update(
        box,
        principal,
        lambda s, now: rename_passkey(s, passkey, name, actor=who, subject=who, now=now),
    )


def revoke(box: Securebox, principal: Principal, passkey: str) -> None:
    """Revoke a passkey: it never authenticates again (UnknownPasskey when not the user's)."""
    who = principal.key
    _update(
        box, principal, lambda s, now: revoke_passkey(s, passkey, actor=who, subject=who, now=now)
    )


def certificate_of(box: Securebox, principal: Principal) -> CertificateInfo | None:
    found = box.store.get_factor_state(principal, fc.CERTIFICATE, DEFAULT_ITEM)
    if found is None:
        return None
    cert = fc.cert_credential_from_dict(found.value)
    return CertificateInfo(cert.subject, cert.fingerprint, cert.enrolled_at)


def _event(box: Securebox, principal: Principal, action: str) -> AuditEvent:
    who = principal.key
    return AuditEvent.make(box.now(), action, actor=who, subject=who, outcome="success")


def remove_certificate(box: Securebox, principal: Principal) -> bool:
    """Remove the enrolled certificate (audited ``certificate.remove``); false when none."""
    if certificate_of(box, principal) is None:
        return False
    event = _event(box, principal, "certificate.remove")
    box.factors.put_state(principal, fc.CERTIFICATE, DEFAULT_ITEM, None, (event,))
    return True


def totp_status(box: Securebox, principal: Principal) -> str:
    """``none``, ``pending`` (not confirmed by a first code), ``active``, or ``replacing``
    (active, and a replacement waits for its first code)."""
    found = box.store.get_factor_state(principal, fc.TOTP, DEFAULT_ITEM)
    if found is None:
        return "none"
    credential = fc.totp_from_dict(
        found.value, keys=box.factors.totp.wrapping, principal=principal, item=DEFAULT_ITEM
    )
    if credential.confirmed_at is None:
        return "pending"
    return "active" if fc.pending_of(found.value) is None else "replacing"


def remove_totp(box: Securebox, principal: Principal) -> bool:
    """Remove the TOTP application (audited ``totp.remove``); false when none."""
    if totp_status(box, principal) == "none":
        return False
    event = _event(box, principal, "totp.remove")
    box.factors.put_state(principal, fc.TOTP, DEFAULT_ITEM, None, (event,))
    return True
