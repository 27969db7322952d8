"""shell/factors.py: each factor's state is loaded from the store, decided by the pure
verifier and committed with the lockout and the audit events in one compare-and-swap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.emv.profiles import TerminalInput
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.errors import ConcurrentUpdate, ConfigurationError
from securebox_auth.factors.cap import CapRequest, issue_challenge
from securebox_auth.factors.certificate import CertChallenge, Revocation, enrol_certificate
from securebox_auth.factors.methods import (
    CAP_IDENTIFY,
    CAP_RESPOND,
    CERTIFICATE,
    PASSKEY_UV,
    RECOVERY_CODE,
    SMS_OTP,
    TOTP,
)
from securebox_auth.factors.oob import Channel, OobRules, SendLog, issue_oob
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.recovery import generate_recovery_codes
from securebox_auth.factors.totp import TotpCredential, code_at
from securebox_auth.factors.webauthn import begin_authentication
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.shell.base import DEFAULT_ITEM, FactorResult
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import Change, PutAccount, PutFactorState
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_auth.testing.pki import Issued, TestPki
from tests.cards.capworld import make_world
from tests.support import NOW, CountingPasswordHasher

P = Principal.parse("123456789", "01")
OTHER = Principal.parse("123456789", "02")
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
#: The TOTP seed wrapping keys of these tests.
WRAP = StaticKeyring.generate("w1")


def _store(*principals: Principal) -> MemoryStore:
    store = MemoryStore()
    store.commit([PutAccount(p, 0, Account(p, Role.USER, NOW)) for p in principals], [])
    return store


def _totp() -> TotpCredential:
    return TotpCredential(SECRET, NOW - timedelta(days=1), confirmed_at=NOW - timedelta(days=1))


class RacingStore(MemoryStore):
    """Runs ``before`` once, just before the first commit: another request winning the race."""

    def __init__(self) -> None:
        super().__init__()
        self.before: list[Callable[[], object]] = []

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        while self.before:
            self.before.pop()()
        super().commit(changes, events)


# -- TOTP ----------------------------------------------------------------------------------


def test_a_totp_step_is_accepted_once() -> None:
    store = _store(P)
    service = FactorService(store, clock=FixedClock(NOW), wrapping=WRAP)
    service.store_totp(P, _totp())
    code = code_at(_totp(), NOW)
    first = service.verify_totp(P, code)
    assert first.ok
    assert first.method is TOTP
    stored = store.get_factor_state(P, fc.TOTP, DEFAULT_ITEM)
    assert stored is not None
    assert stored.version == 2
    assert fc.totp_from_dict(stored.value, keys=WRAP, principal=P, item=DEFAULT_ITEM).last_step
    second = service.verify_totp(P, code)
    assert second.outcome is Outcome.REJECTED
    assert second.reason == "replayed_step"
    assert store.get_lockout(P).value.failures == 1
    actions = [(s.event.action, s.event.outcome) for s in store.audit_log()]
    assert actions == [("login.totp", "success"), ("login.totp", "failure")]


def test_a_totp_enrolment_is_confirmed_once() -> None:
    store = _store(P)
    clock = FixedClock(NOW)
    service = FactorService(store, clock=clock, wrapping=WRAP)
    fresh = replace(_totp(), confirmed_at=None)
    service.store_totp(P, fresh)
    assert service.verify_totp(P, code_at(fresh, NOW)).reason == "not_confirmed"
    confirmed = service.confirm_totp(P, code_at(fresh, NOW))
    assert confirmed.ok
    assert confirmed.method is None  # an enrolment proves nothing for a login
    assert service.confirm_totp(P, code_at(fresh, NOW)).reason == "already_confirmed"
    assert service.verify_totp(P, code_at(fresh, NOW)).reason == "replayed_step"
    clock.advance(timedelta(seconds=30))
    assert service.verify_totp(P, code_at(fresh, clock.at)).ok


def test_a_lost_race_is_retried_from_a_fresh_read() -> None:
    store = RacingStore()
    store.commit([PutAccount(P, 0, Account(P, Role.USER, NOW))], [])
    service = FactorService(store, clock=FixedClock(NOW), wrapping=WRAP)
    service.store_totp(P, _totp())
    code = code_at(_totp(), NOW)
    winner: list[bool] = []
    store.before.append(lambda: winner.append(service.verify_totp(P, code).ok))
    loser = service.verify_totp(P, code)
    assert winner == [True]
    assert loser.reason == "replayed_step"
    assert store.get_lockout(P).value.failures == 1


def test_a_disabled_account_has_no_factor() -> None:
    store = _store(P)
    service = FactorService(store, clock=FixedClock(NOW), wrapping=WRAP)
    service.store_totp(P, _totp())
    account = store.get_account(P)
    assert account is not None
    disabled = replace(account.value, status=AccountStatus.DISABLED)
    store.commit([PutAccount(P, account.version, disabled)], [])
    result = service.verify_totp(P, code_at(_totp(), NOW))
    assert result.reason == "not_enrolled"
    assert store.get_lockout(P).value.failures == 1


def test_failures_block_across_factors() -> None:
    store = _store(P)
    service = FactorService(
        store, clock=FixedClock(NOW), lockout_rules=LockoutRules(), wrapping=WRAP
    )
    service.store_totp(P, _totp())
    results = [service.verify_totp(P, "000000") for _ in range(LockoutRules().max_failures)]
    assert results[-1].outcome is Outcome.BLOCKED
    assert results[-1].blocked_until is not None
    refused = service.verify_totp(P, code_at(_totp(), NOW))
    assert refused.outcome is Outcome.BLOCKED


# -- out-of-band codes ---------------------------------------------------------------------


def _oob(service: FactorService, hasher: Argon2CodeHasher, code: str = "482913") -> str:
    issued = issue_oob(
        P,
        channel=Channel.SMS,
        destination="+33 6 12 34 56 78",
        purpose="login",
        reference="attempt-1",
        now=NOW,
        rules=OobRules(),
        hasher=hasher,
        user_log=SendLog(),
        destination_log=SendLog(),
        code=code,
    )
    assert issued.challenge is not None
    challenge = issued.challenge
    service.put_state(P, fc.OOB, challenge.id, fc.oob_challenge_to_dict(challenge))
    return challenge.id


def test_an_oob_code_is_consumed_once(
    hasher: Argon2CodeHasher, argon2_counter: CountingPasswordHasher
) -> None:
    store = RacingStore()
    store.commit([PutAccount(P, 0, Account(P, Role.USER, NOW))], [])
    service = FactorService(store, clock=FixedClock(NOW + timedelta(seconds=20)), hasher=hasher)
    challenge_id = _oob(service, hasher)
    before = argon2_counter.verifications
    wrong = service.verify_oob(P, challenge_id, "000000", purpose="login", reference="attempt-1")
    assert wrong.reason == "wrong_code"
    stored = store.get_factor_state(P, fc.OOB, challenge_id)
    assert stored is not None
    assert fc.oob_challenge_from_dict(stored.value).wrong == 1
    # another request wins the race in between: the loser re-reads, no second argon2 work
    store.before.append(
        lambda: service.verify_oob(
            P, challenge_id, "482913", purpose="login", reference="attempt-1"
        )
    )
    late = service.verify_oob(P, challenge_id, "482913", purpose="login", reference="attempt-1")
    assert late.reason == "already_used"
    assert store.get_lockout(P).value.failures == 1  # the success reset the count
    stored = store.get_factor_state(P, fc.OOB, challenge_id)
    assert stored is not None
    assert fc.oob_challenge_from_dict(stored.value).consumed_at is not None
    successes = [s for s in store.audit_log() if s.event.outcome == "success"]
    assert [s.event.action for s in successes] == ["login.sms_code"]
    # wrong code, winner, loser's first read; its retry sees a used challenge: one dummy
    assert argon2_counter.verifications - before == 4


def test_an_oob_success(hasher: Argon2CodeHasher) -> None:
    service = FactorService(_store(P), clock=FixedClock(NOW + timedelta(seconds=20)), hasher=hasher)
    challenge_id = _oob(service, hasher)
    result = service.verify_oob(P, challenge_id, "482913", purpose="login", reference="attempt-1")
    assert result.ok
    assert result.method is SMS_OTP
    missing = service.verify_oob(P, "nope", "482913", purpose="login", reference="attempt-1")
    assert missing.reason == "no_challenge"


# -- CAP -------------------------------------------------------------------------------------


def test_a_cap_identify_code_is_accepted_once() -> None:
    world = make_world()
    store = _store(P)
    service = FactorService(store, clock=FixedClock(NOW), issuer=world.issuer)
    card = world.record
    service.put_state(P, fc.CAP_CARD, card.card_id, fc.cap_card_to_dict(card))
    code = world.code(TerminalInput.identify())
    first = service.verify_cap(P, card.card_id, code, request=CapRequest.identify())
    assert first.ok
    assert first.method is CAP_IDENTIFY
    again = service.verify_cap(P, card.card_id, code, request=CapRequest.identify())
    assert again.reason == "replayed_counter"
    stored = store.get_factor_state(P, fc.CAP_CARD, card.card_id)
    assert stored is not None
    assert fc.cap_card_from_dict(stored.value).last_atc is not None
    unknown = service.verify_cap(P, "no-card", code, request=CapRequest.identify())
    assert unknown.reason == "unknown_card"
    other = FactorService(_store(OTHER), clock=FixedClock(NOW), issuer=world.issuer)
    assert other.verify_cap(OTHER, card.card_id, code, request=CapRequest.identify()).reason == (
        "unknown_card"
    )
    assert store.get_lockout(P).value.failures == 2


def test_a_cap_respond_challenge_is_spent_once() -> None:
    world = make_world()
    store = _store(P)
    service = FactorService(
        store, clock=FixedClock(NOW + timedelta(seconds=5)), issuer=world.issuer
    )
    card = world.record
    service.put_state(P, fc.CAP_CARD, card.card_id, fc.cap_card_to_dict(card))
    challenge, _ = issue_challenge(
        card, challenge_id="c1", value="12345678", purpose="login", now=NOW
    )
    service.put_state(P, fc.CAP_CHALLENGE, "c1", fc.cap_challenge_to_dict(challenge))
    code = world.code(TerminalInput.respond("12345678"))
    first = service.verify_cap(P, card.card_id, code, challenge_id="c1")
    assert first.ok
    assert first.method is CAP_RESPOND
    spent = store.get_factor_state(P, fc.CAP_CHALLENGE, "c1")
    assert spent is not None
    assert fc.cap_challenge_from_dict(spent.value).used_at is not None
    code = world.code(TerminalInput.respond("12345678"))  # a fresh ATC, the same challenge
    assert service.verify_cap(P, card.card_id, code, challenge_id="c1").reason == ("challenge_used")
    assert service.verify_cap(P, card.card_id, code, challenge_id="c2").reason == "no_challenge"
    with pytest.raises(ConfigurationError):
        service.verify_cap(P, card.card_id, code)


# -- recovery codes --------------------------------------------------------------------------


def test_a_recovery_code_is_used_once(hasher: Argon2CodeHasher) -> None:
    store = _store(P)
    keys = StaticKeyring.generate("app")  # not the pepper: KeyReuse
    service = FactorService(store, clock=FixedClock(NOW), hasher=hasher, keys=keys)
    shown, stored, _ = generate_recovery_codes(P, now=NOW, hasher=hasher, keys=keys)
    service.put_state(P, fc.RECOVERY, DEFAULT_ITEM, fc.recovery_to_dict(stored))
    code = shown.reveal()[0]
    first = service.verify_recovery(P, code)
    assert first.ok
    assert first.method is RECOVERY_CODE
    assert service.verify_recovery(P, code).reason == "already_used"
    with pytest.raises(ConfigurationError):
        FactorService(store).verify_recovery(P, code)


# -- the renewal clock -----------------------------------------------------------------------


def test_the_renewal_clock_per_channel() -> None:
    store = _store(P)
    service = FactorService(store, clock=FixedClock(NOW))
    assert service.last_sca(P, "web") is None
    service.record_sca(P, "web", NOW)
    service.record_sca(P, "web", NOW - timedelta(days=1))  # never backwards
    assert service.last_sca(P, "web") == NOW
    assert service.last_sca(P, "mobile") is None
    later = NOW + timedelta(days=90)
    change = service.renewal_change(P, "web", later)
    service.record_sca(P, "web", NOW + timedelta(days=1))  # another login in between
    with pytest.raises(ConcurrentUpdate):
        store.commit([change], [])
    store.commit([service.renewal_change(P, "web", later)], [])
    assert service.last_sca(P, "web") == later
    assert isinstance(change, PutFactorState)


# -- passkeys ----------------------------------------------------------------------------------


def test_a_passkey_assertion_consumes_its_ceremony_once() -> None:
    rp = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
    auth = SoftAuthenticator()
    options, ceremony, owned = begin_registration(
        rp, P, None, now=NOW, user_name="123456789-01", display_name="Jeanne Martin"
    )
    registered = finish_registration(rp, ceremony, owned, P, auth.create(options), now=NOW)
    assert registered.passkeys is not None
    store = _store(P)
    service = FactorService(store, clock=FixedClock(NOW + timedelta(seconds=5)), relying_party=rp)
    service.put_state(P, fc.PASSKEYS, DEFAULT_ITEM, fc.passkeys_to_dict(registered.passkeys))
    options, ceremony = begin_authentication(rp, P, registered.passkeys, now=NOW)
    service.put_state(P, fc.WEBAUTHN_CEREMONY, ceremony.id, fc.ceremony_to_dict(ceremony))
    response = auth.get(options)
    first = service.finish_passkey(P, ceremony.id, response)
    assert first.ok
    assert first.method is PASSKEY_UV
    stored = store.get_factor_state(P, fc.PASSKEYS, DEFAULT_ITEM)
    assert stored is not None
    assert fc.passkeys_from_dict(stored.value).passkeys[0].sign_count == auth.counter
    spent = store.get_factor_state(P, fc.WEBAUTHN_CEREMONY, ceremony.id)
    assert spent is not None
    assert fc.ceremony_from_dict(spent.value).consumed_at is not None
    assert service.finish_passkey(P, ceremony.id, response).reason == "ceremony_already_used"
    assert service.finish_passkey(P, "nope", response).reason == "no_ceremony"
    assert store.get_lockout(P).value.failures == 2


# -- certificates ------------------------------------------------------------------------------

AUD = "https://portal.example.test"


@dataclass(frozen=True)
class CertWorld:
    store: MemoryStore
    service: FactorService
    issued: Issued
    trust: TrustSettings
    revocation: Revocation

    def sign(self, challenge: CertChallenge) -> bytes:
        assert isinstance(self.issued.key, ec.EllipticCurvePrivateKey)
        return self.issued.key.sign(challenge.payload(), ec.ECDSA(hashes.SHA256()))

    def verify(self, principal: Principal, challenge_id: str, signature: bytes) -> FactorResult:
        return self.service.verify_certificate(
            principal, challenge_id, signature, trust=self.trust, revocation=self.revocation,
            purpose="login", audience=AUD,
        )  # fmt: skip


@pytest.fixture(scope="module")
def cert_pki() -> TestPki:
    return TestPki(NOW)


@pytest.fixture
def cert(cert_pki: TestPki) -> CertWorld:
    """P has an enrolled certificate (stored through the service); OTHER has none."""
    pki = cert_pki
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=NOW)
    trust, revocation = TrustSettings(anchors=(pki.root.cert,)), Revocation(crls=crls)
    issued = pki.issue("alice")
    credential, event = enrol_certificate(
        P, issued.pem, intermediates=[pki.intermediate.pem], trust=trust,
        revocation=revocation, now=NOW,
    )  # fmt: skip
    store = _store(P, OTHER)
    service = FactorService(store, clock=FixedClock(NOW + timedelta(seconds=5)))
    document = fc.cert_credential_to_dict(credential)
    service.put_state(P, fc.CERTIFICATE, DEFAULT_ITEM, document, (event,))
    return CertWorld(store, service, issued, trust, revocation)


def test_a_certificate_challenge_is_signed_once(cert: CertWorld) -> None:
    store = cert.store
    challenge = cert.service.issue_cert_challenge(P, purpose="login", audience=AUD)
    stored = store.get_factor_state(P, fc.CERT_CHALLENGE, challenge.challenge_id)
    assert stored is not None
    assert stored.version == 1
    assert fc.cert_challenge_from_dict(stored.value) == challenge
    signature = cert.sign(challenge)
    first = cert.verify(P, challenge.challenge_id, signature)
    assert first.ok
    assert first.method is CERTIFICATE
    spent = store.get_factor_state(P, fc.CERT_CHALLENGE, challenge.challenge_id)
    assert spent is not None
    assert spent.version == 2
    assert fc.cert_challenge_from_dict(spent.value).used_at == NOW + timedelta(seconds=5)
    replayed = cert.verify(P, challenge.challenge_id, signature)
    assert replayed.outcome is Outcome.REJECTED
    assert replayed.reason == "challenge_used"
    assert store.get_lockout(P).value.failures == 1
    actions = [(s.event.action, s.event.outcome) for s in store.audit_log()]
    assert actions == [
        ("certificate.enrol", "success"),
        ("certificate.challenge", "issued"),
        ("login.certificate", "success"),
        ("login.certificate", "failure"),
    ]


def test_a_certificate_challenge_of_another_user_is_refused(cert: CertWorld) -> None:
    challenge = cert.service.issue_cert_challenge(P, purpose="login", audience=AUD)
    signature = cert.sign(challenge)
    # OTHER has no certificate and the challenge is stored under P: unknown to OTHER
    wrong = cert.verify(OTHER, challenge.challenge_id, signature)
    assert wrong.outcome is Outcome.REJECTED
    assert wrong.reason == "no_challenge"
    assert cert.store.get_lockout(OTHER).value.failures == 1
    assert cert.store.get_factor_state(OTHER, fc.CERT_CHALLENGE, challenge.challenge_id) is None
    # OTHER's own challenge signed by P's key: OTHER has no enrolled certificate
    theirs = cert.service.issue_cert_challenge(OTHER, purpose="login", audience=AUD)
    assert cert.verify(OTHER, theirs.challenge_id, cert.sign(theirs)).reason == "not_enrolled"
    assert cert.store.get_lockout(OTHER).value.failures == 2
    # P's challenge is untouched and still works for P
    assert cert.verify(P, challenge.challenge_id, signature).ok


def test_certificate_failures_are_counted_and_consume_the_challenge(cert: CertWorld) -> None:
    rules = LockoutRules()
    service = FactorService(
        cert.store, clock=FixedClock(NOW + timedelta(seconds=5)), lockout_rules=rules
    )
    cert = replace(cert, service=service)
    challenge = service.issue_cert_challenge(P, purpose="login", audience=AUD)
    other = service.issue_cert_challenge(P, purpose="login", audience=AUD)
    bad = cert.verify(P, challenge.challenge_id, cert.sign(other))
    assert bad.reason == "bad_signature"
    spent = cert.store.get_factor_state(P, fc.CERT_CHALLENGE, challenge.challenge_id)
    assert spent is not None
    assert fc.cert_challenge_from_dict(spent.value).used_at is not None
    assert cert.verify(P, challenge.challenge_id, cert.sign(challenge)).reason == "challenge_used"
    assert cert.verify(P, "nope", cert.sign(other)).reason == "no_challenge"
    assert cert.store.get_lockout(P).value.failures == 3
    assert cert.verify(P, other.challenge_id, cert.sign(other)).ok
    assert cert.store.get_lockout(P).value.failures == 0


def test_a_certificate_lost_race_is_retried_from_a_fresh_read(cert: CertWorld) -> None:
    store = RacingStore()
    store.commit([PutAccount(P, 0, Account(P, Role.USER, NOW))], [])
    enrolled = cert.store.get_factor_state(P, fc.CERTIFICATE, DEFAULT_ITEM)
    assert enrolled is not None
    service = FactorService(store, clock=FixedClock(NOW + timedelta(seconds=5)))
    service.put_state(P, fc.CERTIFICATE, DEFAULT_ITEM, enrolled.value)
    racing = replace(cert, store=store, service=service)
    challenge = service.issue_cert_challenge(P, purpose="login", audience=AUD)
    signature = racing.sign(challenge)
    winner: list[bool] = []
    store.before.append(
        lambda: winner.append(racing.verify(P, challenge.challenge_id, signature).ok)
    )
    loser = racing.verify(P, challenge.challenge_id, signature)
    assert winner == [True]
    assert loser.reason == "challenge_used"
    assert store.get_lockout(P).value.failures == 1
