"""Enrolment as methods of the factor services (no ``put_state`` with codecs): TOTP,
passkeys, certificates (proof of possession), CAP cards (a first code), out-of-band
destinations (a code sent there) and recovery codes, each audited, on memory and SQLite."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.emv.profiles import TerminalInput
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.errors import NotPermitted
from securebox_auth.factors.cap import CapRequest
from securebox_auth.factors.certificate import Revocation
from securebox_auth.factors.methods import PASSKEY_UV
from securebox_auth.factors.oob import Channel, OobMessage
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal
from securebox_auth.shell.base import DEFAULT_ITEM
from securebox_auth.shell.cap import CapService
from securebox_auth.shell.certificates import ENROL_PURPOSE, CertificateService
from securebox_auth.shell.oob import OobService
from securebox_auth.shell.passkeys import REGISTRY, PasskeyService, credential_key
from securebox_auth.shell.recovery import RecoveryService
from securebox_auth.shell.totp import TotpService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore, PutAccount
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_auth.testing.pki import TestPki
from tests.cards.capworld import make_world, parameters_of
from tests.support import NOW

P = Principal.parse("123456789", "01")
OTHER = Principal.parse("987654321", "07")
WRAP = StaticKeyring.generate("w1")
RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
AUD = "https://portal.example.test"


def _accounts(store: AuthStore, *principals: Principal) -> AuthStore:
    store.commit([PutAccount(p, 0, Account(p, Role.USER, NOW)) for p in principals], [])
    return store


def _actions(store: AuthStore) -> list[tuple[str, str]]:
    return [(s.event.action, s.event.outcome) for s in store.audit_log()]


# -- TOTP ------------------------------------------------------------------------------------


def test_totp_is_enrolled_with_a_qr_code_and_confirmed_by_a_first_code(
    shell_store: AuthStore,
) -> None:
    store = _accounts(shell_store, P)
    totp = TotpService(store, WRAP, clock=FixedClock(NOW))
    enrolment = totp.begin_enrolment(P, issuer="Bank")
    assert enrolment.qr_svg().startswith("<svg")
    assert enrolment.uri().startswith("otpauth://totp/Bank:")
    stored = store.get_factor_state(P, fc.TOTP, DEFAULT_ITEM)
    assert stored is not None
    assert "secret" not in stored.value  # wrapped, never in clear
    code = code_at(enrolment.credential, NOW)
    assert totp.verify(P, code).reason == "not_confirmed"  # proves nothing before
    confirmed = totp.confirm(P, code_at(enrolment.credential, NOW + timedelta(seconds=30)))
    assert confirmed.ok
    assert confirmed.method is None  # an enrolment is not a login
    with pytest.raises(NotPermitted):  # a confirmed TOTP is replaced only explicitly
        totp.begin_enrolment(P, issuer="Bank")
    again = totp.begin_enrolment(P, issuer="Bank", replace=True)
    assert again.secret() != enrolment.secret()
    assert ("totp.enrol", "success") in _actions(store)
    assert ("totp.confirm", "success") in _actions(store)


def test_a_wrong_first_totp_code_confirms_nothing_and_is_counted(shell_store: AuthStore) -> None:
    store = _accounts(shell_store, P)
    totp = TotpService(store, WRAP, clock=FixedClock(NOW))
    enrolment = totp.begin_enrolment(P, issuer="Bank")
    wrong = "000000" if code_at(enrolment.credential, NOW) != "000000" else "111111"
    assert totp.confirm(P, wrong).outcome is Outcome.REJECTED
    assert store.get_lockout(P).value.failures == 1
    assert totp.confirm(P, code_at(enrolment.credential, NOW)).ok


# -- passkeys --------------------------------------------------------------------------------


def _register(service: PasskeyService, principal: Principal, auth: SoftAuthenticator) -> Outcome:
    options, ceremony = service.begin_registration(
        principal, user_name=principal.key, display_name="Jeanne Martin"
    )
    return service.finish_registration(principal, ceremony.id, auth.create(options)).outcome


def test_a_passkey_is_registered_then_logs_in(shell_store: AuthStore) -> None:
    store = _accounts(shell_store, P)
    service = PasskeyService(store, RP, StaticKeyring.generate("k"), clock=FixedClock(NOW))
    auth = SoftAuthenticator()
    assert _register(service, P, auth) is Outcome.ACCEPTED
    owner = store.get_factor_state(
        REGISTRY, fc.PASSKEY_ID, credential_key(RP.id, auth.credential_id)
    )
    assert owner is not None
    assert owner.value["principal"] == P.key
    options, ceremony = service.begin_authentication(P)
    result = service.finish_authentication(P, ceremony.id, auth.get(options))
    assert result.ok
    assert result.method is PASSKEY_UV
    assert ("passkey.register", "success") in _actions(store)


def test_a_credential_id_registered_to_anyone_is_refused(shell_store: AuthStore) -> None:
    store = _accounts(shell_store, P, OTHER)
    service = PasskeyService(store, RP, StaticKeyring.generate("k"), clock=FixedClock(NOW))
    first = SoftAuthenticator()
    assert _register(service, P, first) is Outcome.ACCEPTED
    # another authenticator (another key) claiming the same credential id, for another user
    clone = SoftAuthenticator(credential_id=first.credential_id)
    assert _register(service, OTHER, clone) is Outcome.REJECTED
    assert _register(service, P, clone) is Outcome.REJECTED  # nor twice for the same user
    stored = store.get_factor_state(OTHER, fc.PASSKEYS, DEFAULT_ITEM)
    assert stored is not None
    assert fc.passkeys_from_dict(stored.value).passkeys == ()
    refusals = [s.event for s in store.audit_log() if s.event.outcome == "failure"]
    assert [dict(e.details)["reason"] for e in refusals] == ["duplicate_credential"] * 2
    assert store.get_lockout(OTHER).value.failures == 0  # nothing was guessed


# -- certificates ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki(NOW)


def _trust(pki: TestPki) -> tuple[TrustSettings, Revocation]:
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=NOW)
    return TrustSettings(anchors=(pki.root.cert,)), Revocation(crls=crls)


def test_a_certificate_is_enrolled_only_with_proof_of_possession(
    shell_store: AuthStore, pki: TestPki
) -> None:
    store = _accounts(shell_store, P)
    trust, revocation = _trust(pki)
    service = CertificateService(store, clock=FixedClock(NOW + timedelta(seconds=5)))
    issued, stranger = pki.issue("alice"), pki.issue("mallory")

    def enrol(signer: ec.EllipticCurvePrivateKey) -> Outcome:
        challenge = service.issue_challenge(P, purpose=ENROL_PURPOSE, audience=AUD)
        signature = signer.sign(challenge.payload(), ec.ECDSA(hashes.SHA256()))
        return service.enrol(
            P, challenge.challenge_id, issued.pem, signature, audience=AUD, trust=trust,
            revocation=revocation, intermediates=[pki.intermediate.pem],
        ).outcome  # fmt: skip

    assert isinstance(stranger.key, ec.EllipticCurvePrivateKey)
    assert isinstance(issued.key, ec.EllipticCurvePrivateKey)
    # alice's certificate, presented with a signature by another key: refused, not stored
    assert enrol(stranger.key) is Outcome.REJECTED
    assert store.get_factor_state(P, fc.CERTIFICATE, DEFAULT_ITEM) is None
    assert store.get_lockout(P).value.failures == 1
    assert enrol(issued.key) is Outcome.ACCEPTED
    assert store.get_factor_state(P, fc.CERTIFICATE, DEFAULT_ITEM) is not None
    login = service.issue_challenge(P, purpose="login", audience=AUD)
    signature = issued.key.sign(login.payload(), ec.ECDSA(hashes.SHA256()))
    verified = service.verify(
        P, login.challenge_id, signature, trust=trust, revocation=revocation,
        purpose="login", audience=AUD,
    )  # fmt: skip
    assert verified.ok
    assert ("certificate.enrol", "success") in _actions(store)


# -- CAP -------------------------------------------------------------------------------------


def test_a_cap_card_is_bound_by_a_first_valid_code(shell_store: AuthStore) -> None:
    world = make_world()
    store = _accounts(shell_store, P)
    service = CapService(store, world.issuer, clock=FixedClock(NOW))

    def bind(code: str) -> Outcome:
        return service.bind_card(
            P, card_id="card-1", pan=world.pan, psn=world.card.state.psn,
            parameters=parameters_of(world.card.state, world.profile.name),
            pan_keys=world.app_keys, code=code,
        ).outcome  # fmt: skip

    code = world.code(TerminalInput.identify())
    wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
    assert bind(wrong) is Outcome.REJECTED
    assert store.get_factor_state(P, fc.CAP_CARD, "card-1") is None
    assert store.get_lockout(P).value.failures == 1
    assert bind(code) is Outcome.ACCEPTED
    stored = store.get_factor_state(P, fc.CAP_CARD, "card-1")
    assert stored is not None
    assert stored.version == 1
    assert fc.cap_card_from_dict(stored.value).last_atc == world.card.state.atc
    with pytest.raises(NotPermitted):
        bind(world.code(TerminalInput.identify()))
    again = service.verify(P, "card-1", code, request=CapRequest.identify())
    assert again.reason == "replayed_counter"  # the binding code cannot then log in
    assert ("cap.enrol", "success") in _actions(store)


# -- out-of-band destinations ----------------------------------------------------------------


@dataclass
class Outbox:
    """A gateway that keeps the messages (a real
    :class:`~securebox_auth.shell.gateways.Gateway`)."""

    sent: list[OobMessage] = field(default_factory=list)

    def send(self, message: OobMessage) -> None:
        self.sent.append(message)

    def last_code(self) -> str:
        found = re.search(r"\b(\d{6,8})\b", self.sent[-1].body)
        assert found is not None
        return found.group(1)


def test_an_oob_destination_is_kept_once_a_code_sent_there_came_back(
    shell_store: AuthStore, hasher: Argon2CodeHasher
) -> None:
    store = _accounts(shell_store, P)
    clock = FixedClock(NOW)
    service = OobService(store, hasher, StaticKeyring.generate("k"), clock=clock)
    outbox = Outbox()
    phone, other_phone = "+33 6 12 34 56 78", "+33 6 99 99 99 99"
    issued = service.begin_destination(P, channel=Channel.SMS, destination=phone, gateway=outbox)
    assert issued.challenge is not None
    assert outbox.sent[0].destination == phone
    assert service.destinations(P) == ()  # not before the code came back
    # the code, presented for another number, does not enrol that number
    elsewhere = service.confirm_destination(
        P, issued.challenge.id, outbox.last_code(), channel=Channel.SMS, destination=other_phone
    )
    assert elsewhere.outcome is Outcome.REJECTED
    clock.advance(timedelta(seconds=31))  # the minimum interval between two codes
    issued = service.begin_destination(P, channel=Channel.SMS, destination=phone, gateway=outbox)
    assert issued.challenge is not None
    clock.advance(timedelta(seconds=5))
    confirmed = service.confirm_destination(
        P, issued.challenge.id, outbox.last_code(), channel=Channel.SMS, destination=phone
    )
    assert confirmed.ok
    assert confirmed.method is None
    [kept] = service.destinations(P)
    assert (kept.channel, kept.destination) == (Channel.SMS, phone)
    assert ("oob.destination.enrol", "success") in _actions(store)


# -- recovery codes --------------------------------------------------------------------------


def test_recovery_codes_are_shown_once_and_only_their_hashes_kept(
    shell_store: AuthStore, hasher: Argon2CodeHasher
) -> None:
    store = _accounts(shell_store, P)
    service = RecoveryService(store, hasher, StaticKeyring.generate("k"), clock=FixedClock(NOW))
    codes = service.generate(P).reveal()
    stored = store.get_factor_state(P, fc.RECOVERY, DEFAULT_ITEM)
    assert stored is not None
    text = repr(stored.value)
    assert not any(c.replace("-", "") in text.replace("-", "") for c in codes)
    assert service.verify(P, codes[0]).ok
    assert not service.verify(P, codes[0]).ok  # used up
    newer = service.generate(P).reveal()
    assert not service.verify(P, codes[1]).ok  # the old set stopped working
    assert service.verify(P, newer[1]).ok
    assert ("recovery.generate", "success") in _actions(store)
