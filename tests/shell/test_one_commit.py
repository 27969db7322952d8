"""One commit per user step (ADR 0023), on memory, SQLite and PostgreSQL: each answer
commits the factor's state, the lockout, the flow (or the session with its renewal clock)
and the audit events together; a lost race reads and decides the whole step again, so a
one-time value consumed meanwhile is refused, a refusal is counted even when the flow is
gone, and argon2 runs again only when the stored hash changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth import (
    PROFILE_TESTING,
    CapAnswer,
    CertificateAnswer,
    CertificateSettings,
    Channel,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    FlowExpired,
    FlowOutOfOrder,
    LoginState,
    OobAnswer,
    OperationRequest,
    PasskeyAnswer,
    RecoveryAnswer,
    Securebox,
    StepUpState,
    TotpAnswer,
    load_policy,
)
from securebox_auth.emv.profiles import CapMode, TerminalInput
from securebox_auth.errors import UnknownDestination
from securebox_auth.factors.certificate import Revocation, enrol_certificate
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.flows import codec
from securebox_auth.lockout.rules import Element
from securebox_auth.shell import records
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_auth.testing.pki import Issued, TestPki
from tests.cards.capworld import CapWorld, make_world
from tests.shell.counting import CountingHasher, CountingStore
from tests.shell.portal import (
    CLIENT,
    CODE,
    MASTER,
    POLICY_TEXT,
    T0,
    Phone,
    enrol_users,
    totp_now,
    user,
)

RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
IBAN = "FR7630006000011234567890189"
#: SMS codes at login, and an operation a TOTP code serves in a step-up (a recovery code is
#: listed, never offered).
EXPORT = """
[login]
methods = ["confidential_code", "cap_identify", "certificate", "passkey_uv", "totp", "sms_otp"]

[operation.export]
methods = ["recovery_code", "totp", "confidential_code"]
single_use = true
"""


class World:
    """A portal whose store counts commits, one user with every factor."""

    def __init__(self, store: AuthStore, tmp: object) -> None:
        self.clock = FixedClock(T0)
        self.phone = Phone()
        self.pki = TestPki(T0 - timedelta(days=1))
        self.alice: Issued = self.pki.issue("alice")
        self.cap: CapWorld = make_world("uk")
        self.store = CountingStore(store)
        crls = add_crl(CrlCache(), self.pki.crl(), self.pki.intermediate.cert, now=T0)
        crls = add_crl(crls, self.pki.crl(issuer=self.pki.root), self.pki.root.cert, now=T0)
        self.settings = CertificateSettings(
            TrustSettings(anchors=(self.pki.root.cert,)), Revocation(crls=crls)
        )
        path = tmp / "policy.toml"  # type: ignore[operator]
        path.write_text(POLICY_TEXT + EXPORT, encoding="utf-8")
        self.box = Securebox.from_policy(
            load_policy(path),
            store=self.store.as_store(),
            keys=DerivedKeys.from_hex(MASTER),
            clock=self.clock,
            gateways={"sms": self.phone},
            argon2=PROFILE_TESTING,
            relying_party=RP,
            cap_issuer=self.cap.issuer,
            certificates=self.settings,
        )
        self.seed = enrol_users(self.box, 1)[user(1)]
        self.clock.advance(timedelta(seconds=30))

    def login(self) -> str:
        page = self.box.start_login(CLIENT, "01")
        page = self.box.answer_login(page.handle, CodeAnswer(CODE))
        if page.session_id is None:
            page = self.box.answer_login(page.handle, TotpAnswer(totp_now(self.seed, self.clock)))
        assert page.session_id is not None
        return page.session_id


@pytest.fixture
def world(contract_store: AuthStore, tmp_path: object) -> World:
    return World(contract_store, tmp_path)


def test_a_full_login_and_its_assertion_are_four_commits(world: World) -> None:
    box, store, clock = world.box, world.store, world.clock
    page, n = store.counted(lambda: box.start_login(CLIENT, "01"))
    assert n == 1
    page, n = store.counted(lambda: box.answer_login(page.handle, CodeAnswer(CODE)))
    assert (n, page.state) == (1, LoginState.SECOND_FACTOR)
    totp = TotpAnswer(totp_now(world.seed, clock))
    page, n = store.counted(lambda: box.answer_login(page.handle, totp))
    assert n == 1
    assert page.session_id is not None
    assert box.factors.last_sca(user(1), "web") == clock.now()
    session_id = page.session_id
    clock.advance(timedelta(seconds=5))
    token, n = store.counted(lambda: box.assertion(session_id, audience="api"))
    assert n == 1
    assert token.count(".") == 2
    assert box.live_session(session_id).value.last_activity == clock.now()  # touched
    actions = [e.event.action for e in box.audit_log()]
    # the TOTP step's events, sealed by its one commit, in order, then the assertion's
    assert actions[-5:] == [
        "login.totp",
        "login.step",
        "login.decision",
        "session.open",
        "assertion.issue",
    ]
    assert box.verify_audit() == len(actions)


def test_a_code_by_sms_at_login_is_one_commit(world: World) -> None:
    box, store = world.box, world.store
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    assert "sms_otp" in page.offered
    sent = box.send_login_code(page.handle, channel=Channel.SMS, destination="+33600000001")
    answer = OobAnswer(sent, world.phone.code)
    page, n = store.counted(lambda: box.answer_login(page.handle, answer))
    assert n == 1
    assert page.session_id is not None


def test_a_login_code_goes_to_no_destination_the_caller_makes_up(world: World) -> None:
    box = world.box
    known = box.start_login(CLIENT, "01")
    assert known.offered == box.start_login(CLIENT, "77").offered  # the same first offer
    page = box.answer_login(known.handle, CodeAnswer(CODE))
    assert "sms_otp" in page.offered
    sent = len(world.phone.bodies)
    with pytest.raises(UnknownDestination):
        box.send_login_code(page.handle, channel=Channel.SMS, destination="+33699999999")
    assert len(world.phone.bodies) == sent  # nothing sent
    assert box.send_login_code(page.handle, channel=Channel.SMS, destination="+33600000001")


def test_step_up_start_answers_and_execute_are_one_commit_each(world: World) -> None:
    box, store = world.box, world.store
    session_id = world.login()
    request = OperationRequest("payee_management", payee=IBAN)
    up, n = store.counted(lambda: box.start_step_up(session_id, request))
    assert (n, up.state) == (1, StepUpState.CHALLENGED)
    sms = box.send_step_up_code(
        session_id, up.handle, channel=Channel.SMS, destination="+33600000001"
    )
    oob = OobAnswer(sms, world.phone.code)
    up, n = store.counted(lambda: box.prove_step_up(session_id, up.handle, oob))
    assert n == 1
    assert not up.rejected
    up, n = store.counted(lambda: box.prove_step_up(session_id, up.handle, CodeAnswer(CODE)))
    assert n == 1
    assert up.ready
    assert up.session_id != session_id
    done, n = store.counted(lambda: box.execute(up.session_id, up.handle))
    assert n == 1
    assert done.executed


def test_totp_in_a_step_up_is_one_commit_and_a_recovery_code_none(world: World) -> None:
    """A recovery code never counts towards SCA, so no flow offers it: answering one is
    refused before anything is verified, and nothing is committed."""
    box, store, clock = world.box, world.store, world.clock
    codes = box.factors.recovery.generate(user(1)).reveal()
    session_id = world.login()
    up = box.start_step_up(session_id, OperationRequest("export"))
    assert up.state is StepUpState.CHALLENGED
    assert "recovery_code" not in up.methods
    recovery = RecoveryAnswer(codes[0])
    before = store.commits
    with pytest.raises(FlowOutOfOrder):
        box.prove_step_up(session_id, up.handle, recovery)
    assert store.commits == before
    clock.advance(timedelta(seconds=30))  # the next TOTP step
    totp = TotpAnswer(totp_now(world.seed, clock))
    up, n = store.counted(lambda: box.prove_step_up(session_id, up.handle, totp))
    assert n == 1
    assert not up.rejected


def test_cap_passkey_and_certificate_logins_are_one_commit_per_answer(world: World) -> None:
    box, store, clock = world.box, world.store, world.clock
    record = world.cap.record
    box.factors.put_state(user(1), fc.CAP_CARD, record.card_id, fc.cap_card_to_dict(record))
    page = box.start_login(CLIENT, "01")
    answer = CapAnswer(
        record.card_id, world.cap.code(TerminalInput.identify()), mode=CapMode.IDENTIFY
    )
    page, n = store.counted(lambda: box.answer_login(page.handle, answer))
    assert n == 1
    assert page.done

    credential, event = enrol_certificate(
        user(1), world.alice.pem, intermediates=[world.pki.intermediate.pem],
        trust=world.settings.trust, revocation=world.settings.revocation, now=T0,
    )  # fmt: skip
    box.factors.put_state(
        user(1), fc.CERTIFICATE, "default", fc.cert_credential_to_dict(credential), (event,)
    )
    page = box.start_login(CLIENT, "01")
    challenge = box.login_certificate_challenge(page.handle)
    key = world.alice.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(challenge.payload(), ec.ECDSA(hashes.SHA256()))
    signed = CertificateAnswer(challenge.challenge_id, signature)
    page, n = store.counted(lambda: box.answer_login(page.handle, signed))
    assert n == 1
    assert page.done

    authenticator = SoftAuthenticator()
    options, ceremony, owned = begin_registration(
        RP, user(1), None, now=clock.now(), user_name="123456789-01", display_name="Jeanne"
    )
    registered = finish_registration(
        RP, ceremony, owned, user(1), authenticator.create(options), now=clock.now()
    )
    assert registered.passkeys is not None
    box.factors.put_state(user(1), fc.PASSKEYS, "default", fc.passkeys_to_dict(registered.passkeys))
    page = box.start_login(CLIENT, "01")
    options, ceremony_id = box.login_passkey_options(page.handle)
    passkey = PasskeyAnswer(ceremony_id, authenticator.get(options))
    page, n = store.counted(lambda: box.answer_login(page.handle, passkey))
    assert n == 1
    assert page.done


def test_a_refusal_is_one_commit_and_counted_once(world: World) -> None:
    box, store = world.box, world.store
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    page, n = store.counted(lambda: box.answer_login(page.handle, TotpAnswer("000000")))
    assert n == 1
    assert page.rejected
    assert page.state is LoginState.SECOND_FACTOR
    assert box.store.get_lockout(user(1)).value.series(Element.TOTP).failures == 1


def test_a_totp_step_used_meanwhile_is_refused_never_two_accepts(world: World) -> None:
    box, store, clock = world.box, world.store, world.clock
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    code = totp_now(world.seed, clock)
    # another request uses the same TOTP code between this step's read and its commit
    accepted: list[bool] = []
    store.before_next_commit(lambda: accepted.append(box.factors.verify_totp(user(1), code).ok))
    page = box.answer_login(page.handle, TotpAnswer(code))
    assert page.session_id is None
    assert page.rejected
    assert accepted == [True]  # the other request's accept was the only one
    assert box.store.sessions_of(user(1)) == []
    assert box.store.get_lockout(user(1)).value.series(Element.TOTP).failures == 1


def test_a_refusal_is_counted_when_the_flow_went_meanwhile(world: World) -> None:
    box, store = world.box, world.store
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    flow_id = page.flow.id

    def end_the_flow() -> None:
        found = store.inner.get_factor_state(user(1), codec.LOGIN_FLOW, flow_id)
        assert found is not None
        store.inner.commit(
            [records.put(user(1), codec.LOGIN_FLOW, flow_id, found.version, None)], []
        )

    store.before_next_commit(end_the_flow)
    with pytest.raises(FlowExpired):
        box.answer_login(page.handle, TotpAnswer("000000"))
    assert box.store.get_lockout(user(1)).value.series(Element.TOTP).failures == 1


def test_argon2_runs_again_on_a_lost_race_only_when_the_hash_changed(world: World) -> None:
    box, store = world.box, world.store
    hasher = CountingHasher(box.codes.hasher)
    box.codes.hasher = hasher

    def touch_the_flow(handle: str) -> None:  # same document, new version
        principal, flow_id = records.parse_handle(
            handle, codec.LOGIN_FLOW, box.codes.parse_principal
        )
        found = store.inner.get_factor_state(principal, codec.LOGIN_FLOW, flow_id)
        assert found is not None
        change = records.put(principal, codec.LOGIN_FLOW, flow_id, found.version, found.value)
        store.inner.commit([change], [])

    page = box.start_login(CLIENT, "01")
    store.before_next_commit(lambda: touch_the_flow(page.handle))
    after = box.answer_login(page.handle, CodeAnswer(CODE))
    assert after.state is LoginState.SECOND_FACTOR
    assert hasher.verified == 1  # the retry reused the answer for the same stored hash

    page = box.start_login(CLIENT, "01")
    hasher.verified = 0
    new_code = "58231946"

    def change_the_code() -> None:
        box.codes.hasher = hasher.inner  # the other request's own argon2 work is not counted
        assert box.codes.change_code(CLIENT, "01", CODE, new_code).changed
        box.codes.hasher = hasher

    store.before_next_commit(change_the_code)
    refused = box.answer_login(page.handle, CodeAnswer(CODE))
    assert refused.rejected  # decided again on the new hash: the old code is wrong now
    assert hasher.verified == 2


def test_an_sms_code_proved_twice_at_once_serves_once(world: World) -> None:
    box, store = world.box, world.store
    session_id = world.login()
    up = box.start_step_up(session_id, OperationRequest("payee_management", payee=IBAN))
    sms = box.send_step_up_code(
        session_id, up.handle, channel=Channel.SMS, destination="+33600000001"
    )
    answer = OobAnswer(sms, world.phone.code)
    other: list[bool] = []
    # another request proves the same code between this step's read and its commit
    store.before_next_commit(
        lambda: other.append(box.prove_step_up(session_id, up.handle, answer).rejected)
    )
    mine = box.prove_step_up(session_id, up.handle, answer)
    assert other == [False]  # the other request's proof was accepted
    assert mine.rejected  # decided again: the code was used
    assert box.step_up_flow(session_id, up.handle).proven == ("sms_otp",)
