"""One principal enrolled on every factor, reachable through every entry path of the real
services (code login, code change, OOB, TOTP, recovery, CAP, certificate, passkey, company
proof) on one store, and a checker of the lockout rules of ADR 0008.

:class:`LockoutWorld` makes one attempt at a time, right or wrong, on a path; it reads the
principal's lockout state before and after, and :class:`Checker` asserts what must hold:
a blocked principal is refused on every path without anything counted; the
``max_failures``-th consecutive failure of one element (no success of that element in
between) blocks; a block caused by an element that already caused ``max_temporary_blocks``
temporary blocks since its last success is permanent; nothing blocks for good earlier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.emv.profiles import TerminalInput
from securebox_auth.entitlements.accounts import Role
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import NotPermitted
from securebox_auth.factors.cap import CapRequest
from securebox_auth.factors.certificate import Revocation, enrol_certificate
from securebox_auth.factors.code import CodeCredential
from securebox_auth.factors.oob import Channel, OobRules, SendLog, issue_oob
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.recovery import generate_recovery_codes
from securebox_auth.factors.totp import TotpCredential, code_at
from securebox_auth.factors.webauthn import begin_authentication
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal, Siren
from securebox_auth.lockout.rules import (
    BlockStatus,
    Element,
    LockoutRules,
    LockoutState,
    block_status,
)
from securebox_auth.policy.session import open_session
from securebox_auth.shell.base import DEFAULT_ITEM
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore, OpenSession, PutCode
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_auth.testing.pki import TestPki
from tests.cards.capworld import make_world
from tests.support import BACK_OFFICE, NOW, STRONG_CODES

P: Final = Principal.parse("123456789", "01")
SECRET: Final = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
AUD: Final = "https://portal.example.test"
RP: Final = RelyingParty(
    id="bank.example", name="Bank", origins=frozenset({"https://bank.example"})
)

#: Each entry path and the element whose series it counts in.
PATHS: Final = {
    "code_login": Element.CODE,
    "code_change": Element.CODE,
    "oob": Element.OOB,
    "totp": Element.TOTP,
    "recovery": Element.RECOVERY,
    "cap": Element.CAP,
    "certificate": Element.CERTIFICATE,
    "passkey": Element.PASSKEY,
    "company_proof": Element.COMPANY_PROOF,
}


def _siren(n: int) -> Siren:
    """The ``n``-th valid SIREN (8 digits and a Luhn check digit)."""
    body = f"{500000000 + n * 10:09d}"[:8]
    for check in "0123456789":
        try:
            return Siren(body + check)
        except ValueError:
            continue
    raise AssertionError("no Luhn digit")  # pragma: no cover


@dataclass
class Checker:
    """What the rules promise, tracked from the outcomes only (not from the state's fields)."""

    rules: LockoutRules
    #: Failures of each element counted since its last success or its last block.
    run: dict[Element, int] = field(default_factory=dict)
    #: Temporary blocks each element caused since its last success.
    blocks: dict[Element, int] = field(default_factory=dict)
    #: Temporary blocks since the last success of any element.
    all_blocks: int = 0
    failures_let_through: int = 0

    def success(self, element: Element) -> None:
        self.run.pop(element, None)
        self.blocks.pop(element, None)
        self.all_blocks = 0

    def failure(self, element: Element, after: LockoutState, world: LockoutWorld) -> None:
        """A wrong attempt was evaluated (the principal was open)."""
        self.failures_let_through += 1
        run = self.run.get(element, 0) + 1
        status = block_status(after, world.clock.now())
        limit = self.rules.max_temporary_blocks
        if run >= self.rules.max_failures:
            assert status is not BlockStatus.OPEN, f"{run} failures of {element} not blocked"
        if status is BlockStatus.OPEN:
            self.run[element] = run
            return
        # this failure blocked: it ends the element's run and counts for its escalation
        self.run[element] = 0
        earlier = self.blocks.get(element, 0)
        must_be_permanent = self.rules.temporary_block is None or (
            limit is not None and earlier >= limit
        )
        if must_be_permanent:
            assert status is BlockStatus.PERMANENT, f"{element}'s block {earlier + 1} temporary"
        may_be_permanent = must_be_permanent or (limit is not None and self.all_blocks >= limit)
        if status is BlockStatus.PERMANENT:
            assert may_be_permanent, f"{element} blocked for good too early"
        else:
            self.blocks[element] = earlier + 1
            self.all_blocks += 1

    def unblocked(self) -> None:
        self.run.clear()
        self.blocks.clear()
        self.all_blocks = 0


class LockoutWorld:
    """The real services on one ``store``, a fixed clock, and ``P`` enrolled everywhere."""

    def __init__(self, store: AuthStore, rules: LockoutRules, pki: TestPki) -> None:
        self.store, self.rules, self.clock = store, rules, FixedClock(NOW)
        self.keyring = keyring = StaticKeyring.generate()
        self.hasher = Argon2CodeHasher(StaticKeyring.generate(), PROFILE_TESTING)  # its own pepper
        self.cap = make_world()
        crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW)
        crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=NOW)
        self.trust = TrustSettings(anchors=(pki.root.cert,))
        self.revocation = Revocation(crls=crls)
        self.cert_key = pki.issue("alice")
        self.factors = FactorService(
            store, clock=self.clock, lockout_rules=rules, hasher=self.hasher, keys=keyring,
            issuer=self.cap.issuer, relying_party=RP, wrapping=StaticKeyring.generate(),
        )  # fmt: skip
        self.codes = ConfidentialCodeService(
            store, self.hasher, clock=self.clock, lockout_rules=rules
        )
        self.proofs = KeyedCompanyProofs(StaticKeyring.generate())
        self.entitlements = EntitlementService(
            store, self.hasher, company_proofs=self.proofs, clock=self.clock, lockout_rules=rules
        )
        self.entitlements.open_subscription(BACK_OFFICE, P)  # P is its principal user
        self.code_index = 0
        credential = CodeCredential(self.hasher.hash(P, STRONG_CODES[0]), NOW)
        stored = store.get_code(P)
        store.commit([PutCode(P, stored.version if stored else 0, credential)], [])
        account = store.get_account(P)
        assert account is not None
        assert account.value.role is Role.PRINCIPAL_USER
        self.totp = TotpCredential(SECRET, NOW - timedelta(days=1), confirmed_at=NOW)
        self.factors.store_totp(P, self.totp)
        self.factors.put_state(P, fc.CAP_CARD, self.cap.record.card_id,
                               fc.cap_card_to_dict(self.cap.record))  # fmt: skip
        credential_, event = enrol_certificate(
            P, self.cert_key.pem, intermediates=[pki.intermediate.pem], trust=self.trust,
            revocation=self.revocation, now=NOW,
        )  # fmt: skip
        self.factors.put_state(
            P, fc.CERTIFICATE, DEFAULT_ITEM, fc.cert_credential_to_dict(credential_), (event,)
        )
        self.authenticator = SoftAuthenticator()
        options, ceremony, owned = begin_registration(
            RP, P, None, now=NOW, user_name="123456789-01", display_name="Jeanne Martin"
        )
        registered = finish_registration(
            RP, ceremony, owned, P, self.authenticator.create(options), now=NOW
        )
        assert registered.passkeys is not None
        self.passkeys = registered.passkeys
        self.factors.put_state(P, fc.PASSKEYS, DEFAULT_ITEM, fc.passkeys_to_dict(self.passkeys))
        self.recovery: list[str] = []
        self.companies = 0
        self.cap_wrong = "1" + "0" * (len(self.cap.code(TerminalInput.identify())) - 1)

    # -- one attempt per path: True when it was accepted ------------------------------------

    def lockout(self) -> LockoutState:
        return self.store.get_lockout(P).value

    def attempt(self, path: str, right: bool) -> bool | None:
        """One attempt; ``None`` when it was refused as blocked (never an acceptance)."""
        return _ATTEMPTS[path](self, right)

    def _code_login(self, right: bool) -> bool | None:
        code = STRONG_CODES[self.code_index] if right else "64081729"
        result = self.codes.login(P.client_id.value, P.user_number.value, code)
        return _verdict(result.outcome.value)

    def _code_change(self, right: bool) -> bool | None:
        current = STRONG_CODES[self.code_index] if right else "64081729"
        new_index = (self.code_index + 1) % len(STRONG_CODES)
        result = self.codes.change_code(
            P.client_id.value, P.user_number.value, current, STRONG_CODES[new_index]
        )
        if result.outcome.value == "changed":
            self.code_index = new_index
            return True
        return _verdict(result.outcome.value)

    def _oob(self, right: bool) -> bool | None:
        now = self.clock.now()
        issued = issue_oob(
            P, channel=Channel.SMS, destination="+33 6 12 34 56 78", purpose="login",
            reference="r", now=now, rules=OobRules(), hasher=self.hasher,
            user_log=SendLog(), destination_log=SendLog(), code="482913",
        )  # fmt: skip
        assert issued.challenge is not None
        challenge = issued.challenge
        self.factors.put_state(P, fc.OOB, challenge.id, fc.oob_challenge_to_dict(challenge))
        code = "482913" if right else "482914"
        result = self.factors.verify_oob(P, challenge.id, code, purpose="login", reference="r")
        return _verdict(result.outcome.value)

    def _totp(self, right: bool) -> bool | None:
        now = self.clock.now()
        valid = {code_at(self.totp, now + timedelta(seconds=s)) for s in (-60, -30, 0, 30, 60)}
        code = code_at(self.totp, now)
        if not right:
            code = next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in valid)
        return _verdict(self.factors.verify_totp(P, code).outcome.value)

    def _recovery(self, right: bool) -> bool | None:
        if not self.recovery:
            shown, stored, _ = generate_recovery_codes(
                P, now=self.clock.now(), hasher=self.hasher, keys=self.keyring
            )
            self.factors.put_state(P, fc.RECOVERY, DEFAULT_ITEM, fc.recovery_to_dict(stored))
            self.recovery = list(shown.reveal())
        if right:
            code = self.recovery[0]
        else:  # a code of another set: well formed, never valid here
            other, _, _ = generate_recovery_codes(
                P, now=self.clock.now(), hasher=self.hasher, keys=self.keyring
            )
            code = other.reveal()[0]
        result = self.factors.verify_recovery(P, code)
        if result.ok:
            self.recovery.pop(0)
        return _verdict(result.outcome.value)

    def _cap(self, right: bool) -> bool | None:
        # a wrong code does not use the card, so its counter stays in the accepted window
        code = self.cap.code(TerminalInput.identify()) if right else self.cap_wrong
        result = self.factors.verify_cap(
            P, self.cap.record.card_id, code, request=CapRequest.identify()
        )
        return _verdict(result.outcome.value)

    def _certificate(self, right: bool) -> bool | None:
        challenge = self.factors.issue_cert_challenge(P, purpose="login", audience=AUD)
        payload = challenge.payload() if right else challenge.payload() + b"!"
        key = self.cert_key.key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
        result = self.factors.verify_certificate(
            P, challenge.challenge_id, signature, trust=self.trust, revocation=self.revocation,
            purpose="login", audience=AUD,
        )  # fmt: skip
        return _verdict(result.outcome.value)

    def _ceremony(self) -> tuple[dict[str, object], str]:
        options, ceremony = begin_authentication(RP, P, self.passkeys, now=self.clock.now())
        self.factors.put_state(P, fc.WEBAUTHN_CEREMONY, ceremony.id, fc.ceremony_to_dict(ceremony))
        return options, ceremony.id

    def _passkey(self, right: bool) -> bool | None:
        options, ceremony_id = self._ceremony()
        if not right:  # an assertion made for another ceremony: its challenge differs
            options, _ = self._ceremony()
        response = self.authenticator.get(options)
        return _verdict(self.factors.finish_passkey(P, ceremony_id, response).outcome.value)

    def _company_proof(self, right: bool) -> bool | None:
        self.companies += 1
        siren = _siren(self.companies)
        proof = self.proofs.issue(siren) if right else self.proofs.issue(_siren(0))
        blocked = block_status(self.lockout(), self.clock.now()) is not BlockStatus.OPEN
        # a fresh strong session: no idle timeout
        opening = OpenSession(open_session(P, "web", ("cap_identify",), self.clock.now()))
        self.store.commit([opening], [])
        session = opening.session_id
        try:
            self.entitlements.add_company(session, siren, f"Company {siren}", proof)
        except NotPermitted:
            return None if blocked else False
        return True


def _verdict(outcome: str) -> bool | None:
    if outcome in ("accepted", "change_required", "changed"):
        return True
    if outcome == Outcome.BLOCKED.value:
        return None
    return False


_ATTEMPTS: Final[dict[str, Callable[[LockoutWorld, bool], bool | None]]] = {
    "code_login": LockoutWorld._code_login,
    "code_change": LockoutWorld._code_change,
    "oob": LockoutWorld._oob,
    "totp": LockoutWorld._totp,
    "recovery": LockoutWorld._recovery,
    "cap": LockoutWorld._cap,
    "certificate": LockoutWorld._certificate,
    "passkey": LockoutWorld._passkey,
    "company_proof": LockoutWorld._company_proof,
}


def step(world: LockoutWorld, checker: Checker, path: str, right: bool) -> bool | None:
    """One attempt, checked: returns what :meth:`LockoutWorld.attempt` returned."""
    element = PATHS[path]
    world.clock.advance(timedelta(seconds=30))  # a fresh TOTP step for every attempt
    before = world.lockout()
    was_open = block_status(before, world.clock.now()) is BlockStatus.OPEN
    answer = world.attempt(path, right)
    after = world.lockout()
    if not was_open:
        assert answer is None, f"{path} answered while blocked"
        assert after == before, "an attempt while blocked changed the lockout state"
        return answer
    if right:
        assert answer is True, f"a right {path} attempt on an open principal failed"
        checker.success(element)
        return answer
    assert answer is not True, f"a wrong {path} attempt was accepted"
    checker.failure(element, after, world)
    return answer
