"""TOTP on a store: enrolment (a new seed, shown once, confirmed by a first code), login
and step-up codes. The seed is stored wrapped under ``wrapping`` (ADR 0014)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Unpack

from securebox_auth.audit import AuditEvent
from securebox_auth.crypto.keys import WrappingKeys
from securebox_auth.errors import ConfigurationError, NotPermitted
from securebox_auth.factors.methods import TOTP as TOTP_METHOD
from securebox_auth.factors.totp import TotpCredential, TotpEnrolment, TotpRules, enrol_totp
from securebox_auth.factors.totp import confirm_totp as confirm_core
from securebox_auth.factors.totp import verify_totp as verify_core
from securebox_auth.identity import Principal
from securebox_auth.shell.base import (
    DEFAULT_ITEM,
    Document,
    FactorRead,
    FactorResult,
    FactorShell,
    ShellOptions,
    Step,
)
from securebox_auth.shell.retry import Attempt
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore, PutFactorState

__all__ = ["TotpService"]


class TotpService(FactorShell):
    """TOTP for the principals of ``store``; ``wrapping`` wraps the stored seeds."""

    def __init__(
        self,
        store: AuthStore,
        wrapping: WrappingKeys,
        *,
        rules: TotpRules | None = None,
        **options: Unpack[ShellOptions],
    ) -> None:
        super().__init__(store, **options)
        self.wrapping = wrapping
        self.rules = rules or TotpRules()

    # -- enrolment ---------------------------------------------------------------------------

    def begin_enrolment(
        self,
        principal: Principal,
        *,
        issuer: str,
        label: str | None = None,
        item: str = DEFAULT_ITEM,
        replace: bool = False,
        actor: str | None = None,
    ) -> TotpEnrolment:
        """A fresh seed, stored unconfirmed (wrapped), to show once as a QR code
        (:meth:`~securebox_auth.factors.totp.TotpEnrolment.qr_svg`), a provisioning URI or
        base32 text; :meth:`confirm` with the first code finishes it. A confirmed
        credential is replaced only with ``replace=True`` (after the caller's step-up):
        otherwise :class:`~securebox_auth.errors.NotPermitted`. A replacement waits beside
        the confirmed credential, which goes on working until the new seed's first code
        confirms it (a replacement left unconfirmed costs the user nothing; a newer one
        takes its place). Audited ``totp.enrol`` (by ``actor``, the principal by
        default)."""
        now = self.clock.now()
        enrolment = enrol_totp(principal, now=now, issuer=issuer, rules=self.rules, label=label)
        document = self._document(principal, enrolment.credential, item)
        event = AuditEvent.make(
            now, "totp.enrol", actor=actor or principal.key, subject=principal.key,
            outcome="success",
            details={"item": item, "replaced": str(replace).lower()},
        )  # fmt: skip

        def attempt(_: datetime) -> Step[None]:
            found = self.store.get_factor_state(principal, fc.TOTP, item)
            written: Document = document
            if found is not None:
                current = fc.totp_from_dict(
                    found.value, keys=self.wrapping, principal=principal, item=item
                )
                if current.confirmed_at is not None:
                    if not replace:
                        raise NotPermitted("a confirmed TOTP exists: replace it explicitly")
                    written = fc.with_pending(found.value, document)
            version = 0 if found is None else found.version
            return [PutFactorState(principal, fc.TOTP, item, version, written)], (event,), None

        self._run(attempt)
        return enrolment

    def confirm(
        self, principal: Principal, code: object, *, item: str = DEFAULT_ITEM
    ) -> FactorResult:
        """Finish an enrolment: the first code proves the application holds the seed; its
        step cannot then log in. A wrong code counts as a failed attempt."""
        return self._run(self._totp(principal, code, "login", item, confirming=True))

    def import_credential(
        self,
        principal: Principal,
        credential: TotpCredential,
        *,
        item: str = DEFAULT_ITEM,
        events: Sequence[AuditEvent] = (),
    ) -> None:
        """Store a credential made elsewhere (a migration), its seed wrapped."""
        self._put(principal, fc.TOTP, item, self._document(principal, credential, item), events)

    def rewrap(self, principal: Principal, *, item: str = DEFAULT_ITEM) -> bool:
        """Re-wrap a stored seed in the legacy clear form, or under a key that is no longer
        current, under the current key. True when the document was rewritten."""

        def attempt(_: datetime) -> Step[bool]:
            found = self.store.get_factor_state(principal, fc.TOTP, item)
            if found is None or not fc.totp_needs_rewrap(found.value, self.wrapping):
                return [], (), False
            credential = fc.totp_from_dict(
                found.value, keys=self.wrapping, principal=principal, item=item
            )
            document = self._document(principal, credential, item)
            return [PutFactorState(principal, fc.TOTP, item, found.version, document)], (), True

        return self._run(attempt)

    # -- codes --------------------------------------------------------------------------------

    def verify(
        self, principal: Principal, code: object, *, path: str = "login", item: str = DEFAULT_ITEM
    ) -> FactorResult:
        """One TOTP attempt; a time step is accepted once (``last_step`` moves under
        compare-and-swap)."""
        return self._run(self.decide(principal, code, path=path, item=item))

    def decide(
        self, principal: Principal, code: object, *, path: str = "login", item: str = DEFAULT_ITEM
    ) -> Attempt[FactorResult]:
        """:meth:`verify` without its commit: ``attempt(now)`` returns the changes, events
        and result for a flow to commit with its own (ADR 0023)."""
        return self._totp(principal, code, path, item, confirming=False)

    def _document(self, principal: Principal, credential: TotpCredential, item: str) -> Document:
        return fc.totp_to_dict(credential, keys=self.wrapping, principal=principal, item=item)

    def _totp(
        self, principal: Principal, code: object, path: str, item: str, *, confirming: bool
    ) -> Attempt[FactorResult]:
        key = (fc.TOTP, item)
        wrapping = self.wrapping

        def decode(document: Document) -> TotpCredential:
            return fc.totp_from_dict(document, keys=wrapping, principal=principal, item=item)

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, (key,))
            stored = read.doc(*key)
            pending = fc.pending_of(stored)
            if confirming and pending is not None:
                return confirm_replacement(read, pending, now)
            credential = read.decoded(*key, decode)
            lockout = read.lockout.value
            rules, lockout_rules = self.rules, self.lockout_rules
            if confirming:
                verdict = confirm_core(
                    credential, lockout, principal, code, now=now, rules=rules,
                    lockout_rules=lockout_rules,
                )  # fmt: skip
            else:
                verdict = verify_core(
                    credential, lockout, principal, code, now=now, rules=rules,
                    lockout_rules=lockout_rules, path=path,
                )  # fmt: skip
            # A success moves last_step; a seed in the legacy clear form, or under a retired
            # key, is written back wrapped under the current key at any attempt.
            keep = verdict.credential if verdict.ok else credential
            document: Document | None = None
            stale = stored is not None and fc.totp_needs_rewrap(stored, wrapping)
            if keep is not None and (verdict.ok or stale):
                # A seed that did not change keeps its sealed form: no unwrap, no new wrap.
                same_seed = (
                    stored is not None
                    and credential is not None
                    and not stale
                    and hmac.compare_digest(keep.secret, credential.secret)
                )
                if same_seed and stored is not None:
                    document = fc.totp_used(stored, keep)
                else:  # a replacement waiting for its first code stays (re-wrapped too)
                    if pending is not None and fc.totp_needs_rewrap(pending, wrapping):
                        pending = self._document(principal, decode(pending), item)
                    document = fc.with_pending(self._document(principal, keep, item), pending)
            changes = read.changes(verdict.lockout, [(*key, document)])
            method = TOTP_METHOD if verdict.ok and not confirming else None
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, method,
            )  # fmt: skip
            return changes, verdict.events, result

        def confirm_replacement(
            read: FactorRead, pending: Mapping[str, object], now: datetime
        ) -> Step[FactorResult]:
            # The first code of a replacement: a success makes it the credential (the
            # replaced seed stops there); a failure counts and changes nothing else.
            replacement = decode(pending)
            verdict = confirm_core(
                replacement, read.lockout.value, principal, code, now=now, rules=self.rules,
                lockout_rules=self.lockout_rules,
            )  # fmt: skip
            document = None
            if verdict.ok and verdict.credential is not None:
                document = self._document(principal, verdict.credential, item)
            changes = read.changes(verdict.lockout, [(*key, document)])
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, None,
            )  # fmt: skip
            return changes, verdict.events, result

        return attempt


def refuse_clear_seed(kind: str, document: Document | None) -> None:
    """``put_state`` never stores a TOTP seed in clear (see
    :meth:`TotpService.import_credential`)."""
    if kind == fc.TOTP and document is not None and "secret" in document:
        raise ConfigurationError("a TOTP seed is stored wrapped: use FactorService.store_totp")
