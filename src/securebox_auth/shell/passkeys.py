"""Passkeys (WebAuthn) on a store: registration (options, then the authenticator's
answer) and assertions for a login or a step-up.

A credential id is registered to one principal only, whoever it is: each registration
inserts a record keyed by the digest of the credential id under :data:`REGISTRY` (kind
``passkey_id``) at version 0, in the same commit as the principal's passkey set, so of two
concurrent registrations of the same id exactly one succeeds, and a later one is refused
(``duplicate_credential``, the same reason as a passkey the principal already has)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Unpack

from securebox_auth.audit import AuditEvent
from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.passkeys import Ceremony, RelyingParty
from securebox_auth.factors.webauthn import begin_authentication, finish_authentication
from securebox_auth.factors.webauthn_fast import PasskeyFailure
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.identity import ClientId, Principal, UserNumber
from securebox_auth.lockout.rules import Element, LockoutAlert
from securebox_auth.shell.base import (
    DEFAULT_ITEM,
    FactorRead,
    FactorResult,
    FactorShell,
    ShellOptions,
    Step,
    Write,
)
from securebox_auth.shell.retry import Attempt
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore, Change, PutFactorState

__all__ = ["REGISTRY", "PasskeyService", "credential_key"]

_NO_ALERT: Final = LockoutAlert.NONE

#: The pseudo-principal under which registered credential ids are kept (letters only: no
#: client identifier of the default format can be it).
REGISTRY: Final = Principal(ClientId("SECUREBOX"), UserNumber("PASSKEYREGISTRY"))


def credential_key(rp_id: str, credential_id: bytes) -> str:
    """The registry item of a credential id (a digest: the id itself is not a key)."""
    data = b"securebox/passkey-id/v1\x00" + rp_id.encode() + b"\x00" + credential_id
    return hashlib.sha256(data).hexdigest()


class PasskeyService(FactorShell):
    """Passkeys for the relying party ``relying_party``; ``keys`` derives the decoy
    credential ids shown for a principal without a usable passkey (ADR 0013)."""

    def __init__(
        self,
        store: AuthStore,
        relying_party: RelyingParty,
        keys: KeyProvider,
        **options: Unpack[ShellOptions],
    ) -> None:
        super().__init__(store, **options)
        self.relying_party = relying_party
        self.keys = keys

    # -- registration --------------------------------------------------------------------------

    def begin_registration(
        self,
        principal: Principal,
        *,
        user_name: str,
        display_name: str,
        require_uv: bool = True,
        discoverable: bool = True,
    ) -> tuple[dict[str, Any], Ceremony]:
        """The options for ``navigator.credentials.create`` and the ceremony, stored
        (version 0) under its id for :meth:`finish_registration`; the principal's passkey
        set is created (with a random user handle) when it had none."""
        key = (fc.PASSKEYS, DEFAULT_ITEM)

        def attempt(now: datetime) -> Step[tuple[dict[str, Any], Ceremony]]:
            read = self._read(principal, (key,))
            passkeys = read.decoded(*key, fc.passkeys_from_dict)
            options, ceremony, owned = begin_registration(
                self.relying_party, principal, passkeys, now=now, user_name=user_name,
                display_name=display_name, require_uv=require_uv, discoverable=discoverable,
            )  # fmt: skip
            changes: list[Change] = [
                PutFactorState(
                    principal, fc.WEBAUTHN_CEREMONY, ceremony.id, 0, fc.ceremony_to_dict(ceremony)
                )
            ]
            if passkeys is None and read.states[key] is None:
                changes.append(PutFactorState(principal, *key, 0, fc.passkeys_to_dict(owned)))
            return changes, (), (options, ceremony)

        return self._run(attempt)

    def finish_registration(
        self,
        principal: Principal,
        ceremony_id: str,
        response: str | bytes | Mapping[str, Any],
        *,
        name: str = "Passkey",
    ) -> FactorResult:
        """Check the browser's ``credential.toJSON()`` of ``navigator.credentials.create``
        against the stored ceremony (consumed whatever the result) and add the passkey.
        A credential id registered to anyone already is refused (``duplicate_credential``).
        Audited ``passkey.register``. A failure is not counted against the lockout (nothing
        is guessed), and the result never proves an authentication (``method`` is None)."""
        rp = self.relying_party
        keys = [(fc.WEBAUTHN_CEREMONY, ceremony_id), (fc.PASSKEYS, DEFAULT_ITEM)]
        subject = principal.key

        def refused(
            read: FactorRead, now: datetime, reason: str, writes: list[Write]
        ) -> Step[FactorResult]:
            event = AuditEvent.make(
                now, "passkey.register", actor=subject, subject=subject, outcome="failure",
                details={"reason": reason},
            )  # fmt: skip
            lockout = read.lockout.value
            result = self._result(Outcome.REJECTED, principal, now, reason, lockout, _NO_ALERT)
            return read.changes(lockout, writes), (event,), result

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, keys)
            ceremony = read.decoded(*keys[0], fc.ceremony_from_dict)
            passkeys = read.decoded(*keys[1], fc.passkeys_from_dict)
            if ceremony is None:
                return refused(read, now, PasskeyFailure.WRONG_CEREMONY.value, [])
            verdict = finish_registration(
                rp, ceremony, passkeys, principal, response, now=now, name=name
            )
            spent: Write = (*keys[0], fc.ceremony_to_dict(verdict.ceremony))
            if not verdict.ok or verdict.passkey is None or verdict.passkeys is None:
                reason = PasskeyFailure.INVALID if verdict.reason is None else verdict.reason
                return refused(read, now, reason.value, [spent])
            item = credential_key(rp.id, verdict.passkey.credential_id)
            if self.store.get_factor_state(REGISTRY, fc.PASSKEY_ID, item) is not None:
                return refused(read, now, PasskeyFailure.DUPLICATE_CREDENTIAL.value, [spent])
            changes = read.changes(
                read.lockout.value, [spent, (*keys[1], fc.passkeys_to_dict(verdict.passkeys))]
            )
            owner = {"principal": subject, "registered_at": now.isoformat()}
            changes.append(PutFactorState(REGISTRY, fc.PASSKEY_ID, item, 0, owner))
            result = self._result(
                Outcome.ACCEPTED, principal, now, None, read.lockout.value, _NO_ALERT
            )
            return changes, verdict.events, result

        return self._run(attempt)

    # -- authentication ------------------------------------------------------------------------

    def begin_authentication(
        self,
        principal: Principal,
        *,
        require_uv: bool = True,
        path: str = "login",
        operation: str | None = None,
        digest: str | None = None,
    ) -> tuple[dict[str, Any], Ceremony]:
        """The options for ``navigator.credentials.get`` and the ceremony, stored (version
        0) under its id for :meth:`finish_authentication`. A principal without a usable
        passkey gets the same options with decoy credential ids (no existence oracle)."""
        key = (fc.PASSKEYS, DEFAULT_ITEM)

        def attempt(now: datetime) -> Step[tuple[dict[str, Any], Ceremony]]:
            read = self._read(principal, (key,))
            options, ceremony = begin_authentication(
                self.relying_party, principal, read.decoded(*key, fc.passkeys_from_dict),
                now=now, require_uv=require_uv, path=path, operation=operation, digest=digest,
                decoys=self.keys,
            )  # fmt: skip
            document = fc.ceremony_to_dict(ceremony)
            change = PutFactorState(principal, fc.WEBAUTHN_CEREMONY, ceremony.id, 0, document)
            return [change], (), (options, ceremony)

        return self._run(attempt)

    def finish_authentication(
        self,
        principal: Principal,
        ceremony_id: str,
        response: str | bytes | Mapping[str, Any],
        *,
        digest: str | None = None,
    ) -> FactorResult:
        """Check a WebAuthn assertion against its stored ceremony. The ceremony comes back
        consumed and the passkey's counter moves in the same commit as the lockout."""
        return self._run(self.decide(principal, ceremony_id, response, digest=digest))

    def decide(
        self,
        principal: Principal,
        ceremony_id: str,
        response: str | bytes | Mapping[str, Any],
        *,
        digest: str | None = None,
    ) -> Attempt[FactorResult]:
        """:meth:`finish_authentication` without its commit (ADR 0023)."""
        keys = [(fc.WEBAUTHN_CEREMONY, ceremony_id), (fc.PASSKEYS, DEFAULT_ITEM)]

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, keys)
            ceremony = read.decoded(*keys[0], fc.ceremony_from_dict)
            passkeys = read.decoded(*keys[1], fc.passkeys_from_dict)
            if ceremony is None:
                return self._missing(read, now, "login.passkey", "no_ceremony", Element.PASSKEY)
            verdict = finish_authentication(
                self.relying_party, ceremony, passkeys, read.lockout.value, principal,
                response, now=now, lockout_rules=self.lockout_rules, digest=digest,
            )  # fmt: skip
            writes: list[Write] = [(*keys[0], fc.ceremony_to_dict(verdict.ceremony))]
            if passkeys is not None and verdict.passkeys is not None:
                writes.append((*keys[1], fc.passkeys_to_dict(verdict.passkeys)))
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, verdict.method, digest=digest if verdict.ok else None,
            )  # fmt: skip
            return read.changes(verdict.lockout, writes), verdict.events, result

        return attempt
