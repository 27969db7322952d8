"""The facade over the per-factor services, for callers that hold one object for all
second factors (and for the code written before the split, ADR 0017).

:class:`FactorService` takes every dependency as optional, as it always did, and builds the
service of a factor (:mod:`securebox_auth.shell.totp`, :mod:`~securebox_auth.shell.oob`,
:mod:`~securebox_auth.shell.cap`, :mod:`~securebox_auth.shell.recovery`,
:mod:`~securebox_auth.shell.passkeys`, :mod:`~securebox_auth.shell.certificates`,
:mod:`~securebox_auth.shell.renewal`) when it is first used: a factor whose dependency is
missing raises :class:`~securebox_auth.errors.ConfigurationError` naming it. New code builds
the factor services it needs directly, each with its dependencies required.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock, SystemClock
from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.crypto.key_purposes import check_service_keys
from securebox_auth.crypto.keys import KeyProvider, WrappingKeys
from securebox_auth.emv.issuer import IssuerKeyProvider
from securebox_auth.emv.profiles import CapMode
from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.cap import CapRequest, CapRules
from securebox_auth.factors.certificate import CertChallenge, Revocation
from securebox_auth.factors.methods import CERTIFICATE as CERTIFICATE_METHOD
from securebox_auth.factors.methods import AuthMethod
from securebox_auth.factors.oob import Channel, IssueResult, OobRules
from securebox_auth.factors.passkeys import Ceremony, RelyingParty
from securebox_auth.factors.recovery import RecoveryCodeRules
from securebox_auth.factors.totp import TotpCredential, TotpRules
from securebox_auth.factors.x509_trust import TrustSettings
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.shell.base import DEFAULT_ITEM, FactorResult, FactorShell, ShellOptions
from securebox_auth.shell.cap import CapService, LinkedOperation
from securebox_auth.shell.certificates import CertificateService
from securebox_auth.shell.gateways import Gateway
from securebox_auth.shell.oob import OobCodes, OobService
from securebox_auth.shell.passkeys import PasskeyService
from securebox_auth.shell.recovery import RecoveryService
from securebox_auth.shell.renewal import RenewalClock
from securebox_auth.shell.retry import DEFAULT_BACKOFF, Backoff
from securebox_auth.shell.totp import TotpService, refuse_clear_seed
from securebox_auth.stores.protocols import AuthStore, Change

__all__ = ["FactorService"]

R = TypeVar("R")
Document = Mapping[str, Any]


class FactorService(FactorShell):
    """TOTP, out-of-band codes, CAP codes, recovery codes, passkey assertions and
    certificate challenge signatures on a store, through one object.

    Only the dependencies of the factors used need be given: ``hasher`` for out-of-band
    and recovery codes, ``keys`` for recovery codes, out-of-band send logs and passkey
    decoys, ``issuer`` for CAP, ``relying_party`` (and ``keys``) for passkeys, ``wrapping``
    for TOTP (the seeds are stored wrapped under it). The keys of different purposes must be
    different keys: the constructor raises :class:`~securebox_auth.errors.KeyReuse`
    otherwise.
    """

    def __init__(
        self,
        store: AuthStore,
        *,
        clock: Clock | None = None,
        lockout_rules: LockoutRules | None = None,
        hasher: CodeHasher | None = None,
        keys: KeyProvider | None = None,
        issuer: IssuerKeyProvider | None = None,
        relying_party: RelyingParty | None = None,
        totp_rules: TotpRules | None = None,
        oob_rules: OobRules | None = None,
        cap_rules: CapRules | None = None,
        recovery_rules: RecoveryCodeRules | None = None,
        wrapping: WrappingKeys | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_service_keys(
            store, hasher, {"application": keys, "wrapping": wrapping, "card-key wrapping": issuer}
        )
        clock = clock or SystemClock()
        super().__init__(
            store, clock=clock, lockout_rules=lockout_rules, backoff=backoff, sleep=sleep
        )
        self.hasher, self.keys, self.issuer = hasher, keys, issuer
        self.relying_party, self.wrapping = relying_party, wrapping
        self.totp_rules = totp_rules or TotpRules()
        self.oob_rules = oob_rules or OobRules()
        self.cap_rules = cap_rules or CapRules()
        self.recovery_rules = recovery_rules or RecoveryCodeRules()
        self._options: ShellOptions = {
            "clock": self.clock, "lockout_rules": self.lockout_rules, "backoff": backoff,
            "sleep": sleep,
        }  # fmt: skip
        self.renewal = RenewalClock(store, **self._options)
        self.certificates = CertificateService(store, **self._options)

    # -- the per-factor services (built when first used) ---------------------------------------

    @functools.cached_property
    def totp(self) -> TotpService:
        wrapping = _need(self.wrapping, "wrapping")
        return TotpService(self.store, wrapping, rules=self.totp_rules, **self._options)

    @functools.cached_property
    def oob(self) -> OobService:
        hasher, keys = _need(self.hasher, "hasher"), _need(self.keys, "keys")
        return OobService(self.store, hasher, keys, rules=self.oob_rules, **self._options)

    @functools.cached_property
    def oob_codes(self) -> OobCodes:
        hasher = _need(self.hasher, "hasher")
        return OobCodes(self.store, hasher, rules=self.oob_rules, **self._options)

    @functools.cached_property
    def cap(self) -> CapService:
        issuer = _need(self.issuer, "issuer")
        return CapService(self.store, issuer, rules=self.cap_rules, **self._options)

    @functools.cached_property
    def recovery(self) -> RecoveryService:
        hasher, keys = _need(self.hasher, "hasher"), _need(self.keys, "keys")
        rules = self.recovery_rules
        return RecoveryService(self.store, hasher, keys, rules=rules, **self._options)

    @functools.cached_property
    def passkeys(self) -> PasskeyService:
        rp = _need(self.relying_party, "relying_party")
        keys = self.keys or _NoKeys()  # an assertion needs no key; beginning one does
        return PasskeyService(self.store, rp, keys, **self._options)

    # -- generic state -------------------------------------------------------------------------

    def put_state(
        self,
        principal: Principal,
        kind: str,
        item: str,
        document: Document | None,
        events: Sequence[AuditEvent] = (),
    ) -> None:
        """Store (or delete, with ``None``) a factor document, whatever its version: for
        administration and migrations. Enrolments have their own methods (ADR 0017)."""
        refuse_clear_seed(kind, document)
        self._put(principal, kind, item, document, events)

    # -- the methods of the facade (each delegates to its factor's service) ---------------------

    def store_totp(
        self,
        principal: Principal,
        credential: TotpCredential,
        *,
        item: str = DEFAULT_ITEM,
        events: Sequence[AuditEvent] = (),
    ) -> None:
        self.totp.import_credential(principal, credential, item=item, events=events)

    def rewrap_totp(self, principal: Principal, *, item: str = DEFAULT_ITEM) -> bool:
        return self.totp.rewrap(principal, item=item)

    def verify_totp(
        self, principal: Principal, code: object, *, path: str = "login", item: str = DEFAULT_ITEM
    ) -> FactorResult:
        return self.totp.verify(principal, code, path=path, item=item)

    def confirm_totp(
        self, principal: Principal, code: object, *, item: str = DEFAULT_ITEM
    ) -> FactorResult:
        return self.totp.confirm(principal, code, item=item)

    def issue_oob(
        self,
        principal: Principal,
        *,
        channel: Channel,
        destination: str,
        purpose: str,
        reference: str,
        gateway: Gateway,
        digest: str | None = None,
        display: tuple[tuple[str, str], ...] = (),
        code: str | None = None,
    ) -> IssueResult:
        """Issue a code bound to ``(purpose, reference, digest)`` and send it.

        The per-user and per-destination throttles and the new challenge are committed
        together under compare-and-swap; the message goes to ``gateway`` only **after**
        that commit succeeded. A principal whose account is missing or not active gets the
        same answer after the same work, but no message is sent (ASVS 5.0 6.3.8). The
        per-destination log is stored under ``principal``: it bounds the codes one
        principal sends to one destination. ``code`` exists for deterministic tests."""
        return self.oob.issue(
            principal, channel=channel, destination=destination, purpose=purpose,
            reference=reference, gateway=gateway, digest=digest, display=display, code=code,
        )  # fmt: skip

    def verify_oob(
        self,
        principal: Principal,
        challenge_id: str,
        code: object,
        *,
        purpose: str,
        reference: str,
        digest: str | None = None,
    ) -> FactorResult:
        return self.oob_codes.verify(
            principal, challenge_id, code, purpose=purpose, reference=reference, digest=digest
        )

    def verify_cap(
        self,
        principal: Principal,
        card_id: str,
        code: str,
        *,
        challenge_id: str | None = None,
        request: CapRequest | None = None,
        linked: tuple[CapMode, LinkedOperation] | None = None,
    ) -> FactorResult:
        """One CAP code. A Respond code names its stored challenge (``challenge_id``);
        Identify, Sign and TDS codes pass their ``request``. A code for a digest-linked
        challenge names the challenge and passes ``linked=(mode, payment)`` (or
        ``(CapMode.RESPOND, digest)`` for an operation without a payment): what is
        presented now must be what the challenge was issued for."""
        return self.cap.verify(
            principal, card_id, code, challenge_id=challenge_id, request=request, linked=linked
        )

    def verify_recovery(
        self, principal: Principal, code: object, *, path: str = "recovery"
    ) -> FactorResult:
        return self.recovery.verify(principal, code, path=path)

    def begin_passkey_authentication(
        self,
        principal: Principal,
        *,
        require_uv: bool = True,
        path: str = "login",
        operation: str | None = None,
        digest: str | None = None,
    ) -> tuple[dict[str, Any], Ceremony]:
        _need(self.keys, "keys")  # the decoys of a principal without a passkey need them
        return self.passkeys.begin_authentication(
            principal, require_uv=require_uv, path=path, operation=operation, digest=digest
        )

    def finish_passkey(
        self,
        principal: Principal,
        ceremony_id: str,
        response: str | bytes | Mapping[str, Any],
        *,
        digest: str | None = None,
    ) -> FactorResult:
        return self.passkeys.finish_authentication(principal, ceremony_id, response, digest=digest)

    def issue_cert_challenge(
        self,
        principal: Principal,
        *,
        purpose: str,
        audience: str,
        digest: str | None = None,
        lifetime: timedelta = timedelta(minutes=2),
        challenge_id: str | None = None,
    ) -> CertChallenge:
        return self.certificates.issue_challenge(
            principal, purpose=purpose, audience=audience, digest=digest, lifetime=lifetime,
            challenge_id=challenge_id,
        )  # fmt: skip

    def verify_certificate(
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
        return self.certificates.verify(
            principal, challenge_id, signature, trust=trust, revocation=revocation,
            purpose=purpose, audience=audience, digest=digest, path=path, method=method,
        )  # fmt: skip

    def last_sca(self, principal: Principal, channel: str) -> datetime | None:
        return self.renewal.last_sca(principal, channel)

    def renewal_change(self, principal: Principal, channel: str, at: datetime) -> Change:
        return self.renewal.change(principal, channel, at)

    def record_sca(
        self, principal: Principal, channel: str, at: datetime, events: Sequence[AuditEvent] = ()
    ) -> None:
        self.renewal.record(principal, channel, at, events)


class _NoKeys:
    """The decoy keys of a facade built without ``keys``: any use names what is missing."""

    @property
    def current_key_id(self) -> str:
        raise ConfigurationError("this factor needs FactorService(keys=...)")

    def mac(self, key_id: str, message: bytes) -> bytes:
        raise ConfigurationError("this factor needs FactorService(keys=...)")


def _need(
    value: R | None, name: Literal["hasher", "keys", "issuer", "relying_party", "wrapping"]
) -> R:
    if value is None:
        raise ConfigurationError(f"this factor needs FactorService({name}=...)")
    return value
