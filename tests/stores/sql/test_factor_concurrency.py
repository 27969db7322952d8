"""A second-factor code is accepted once across processes.

Eight OS processes (``spawn``), each with its own engine and :class:`FactorService`, are
released together by a barrier and submit the same code, on SQLite and on PostgreSQL:

* the same TOTP (one principal per round): exactly one is accepted, the time step is then
  spent;
* the same out-of-band code of the same challenge: exactly one is accepted, the challenge is
  consumed;
* the same CAP Respond code for the same stored challenge and card: exactly one is accepted,
  the card's counter and the challenge move once;
* the same passkey assertion for the same ceremony (begun through the store): exactly one is
  accepted, the ceremony is consumed and the passkey's signature counter stored once;
* the same signature over the same certificate challenge (issued through the store, the
  enrolled certificate stored too; trust anchors and CRLs given by each process): exactly one
  is accepted, the challenge is consumed;

and every other submission is counted as a failure on the principal's lockout state.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth.cards.cardfile import demo_card, luhn_pan
from securebox_auth.cards.reader import CapReader
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.emv.profiles import TerminalInput, get_profile
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.factors.cap import CardParameters, enrol_card, issue_challenge
from securebox_auth.factors.certificate import enrol_certificate
from securebox_auth.factors.oob import Channel, OobRules, SendLog, issue_oob
from securebox_auth.factors.totp import TotpCredential, code_at
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.identity import Principal
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.base import DEFAULT_ITEM
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import PutAccount
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_auth.testing.pki import TestPki
from tests.stores.sql import factor_workers as fw
from tests.stores.sql.processes import run_workers

WORKERS: Final = 8
ROUNDS: Final = 12
#: The certificate rounds (a principal each).
CERT_ROUNDS: Final = 10
CLIENT: Final = "444000111"
CAP_USER: Final = Principal.parse(CLIENT, "99")
PIN: Final = "2468"
SECRET: Final = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _principal(kind: str, r: int) -> Principal:
    return Principal.parse(
        CLIENT, f"{ {'totp': 1, 'oob': 3, 'passkey': 5, 'cert': 7}[kind] }{r:02d}"
    )


def _cap_card(setup: fw.Setup, service: FactorService) -> tuple[CapReader, str]:
    """A software card personalised by the test issuer, and its record stored for CAP_USER."""
    issuer = fw.issuer(setup)
    pan, psn = luhn_pan("999999"), "01"
    state = demo_card(
        "uk", master_key=issuer.personalisation_key(pan, psn), pan=pan, psn=psn, pin=PIN
    )
    profile = "pinsentry_uk"
    parameters = CardParameters(
        recipe=state.recipe,
        aip=state.aip,
        ipb=state.ipb,
        iaf=state.iaf,
        cdol1=state.cdol1,
        predicted_iad=state.predicted_iad(),
        profile=profile,
    )
    record, _ = enrol_card(
        card_id="card-1",
        subject=CAP_USER.key,
        pan=pan,
        psn=psn,
        parameters=parameters,
        issuer=issuer,
        pan_keys=StaticKeyring.generate("app"),
        now=fw.FROZEN - timedelta(days=1),
        last_atc=state.atc or None,
    )
    service.put_state(CAP_USER, fc.CAP_CARD, record.card_id, fc.cap_card_to_dict(record))
    return CapReader(SoftEmvCard(state), get_profile(profile)), record.card_id


def _passkey(service: FactorService, principal: Principal) -> SoftAuthenticator:
    """A software authenticator whose passkey is registered and stored for ``principal``."""
    auth = SoftAuthenticator()
    options, ceremony, owned = begin_registration(
        fw.RP, principal, None, now=fw.FROZEN, user_name=principal.key, display_name="User"
    )
    registered = finish_registration(
        fw.RP, ceremony, owned, principal, auth.create(options), now=fw.FROZEN
    )
    assert registered.passkeys is not None
    document = fc.passkeys_to_dict(registered.passkeys)
    service.put_state(principal, fc.PASSKEYS, DEFAULT_ITEM, document)
    return auth


def _certificates(pki: TestPki, setup: fw.Setup, service: FactorService) -> list[fw.Task]:
    """Per round: a principal with an enrolled certificate, a challenge issued through the
    service, and its one signature (which every process submits)."""
    trust, revocation = fw.cert_checks(setup)
    tasks = []
    for r in range(CERT_ROUNDS):
        principal = _principal("cert", r)
        issued = pki.issue(f"user-{r}")
        credential, _ = enrol_certificate(
            principal,
            issued.der,
            intermediates=[pki.intermediate.der],
            trust=trust,
            revocation=revocation,
            now=fw.FROZEN,
        )
        document = fc.cert_credential_to_dict(credential)
        service.put_state(principal, fc.CERTIFICATE, DEFAULT_ITEM, document)
        challenge = service.issue_cert_challenge(principal, purpose="login", audience=fw.AUDIENCE)
        assert isinstance(issued.key, ec.EllipticCurvePrivateKey)
        signature = issued.key.sign(challenge.payload(), ec.ECDSA(hashes.SHA256()))
        user = (CLIENT, principal.user_number.value)
        tasks.append(fw.Task("cert", r, user, (challenge.challenge_id, signature)))
    return tasks


def _prepare(
    setup: fw.Setup, store: SqlStore, pki: TestPki
) -> tuple[list[fw.Task], dict[int, int]]:
    """The tasks, and the signature counter each round's assertion carries."""
    service = FactorService(
        store,
        clock=FixedClock(fw.FROZEN),
        hasher=fw.hasher(setup),
        relying_party=fw.RP,
        wrapping=fw.wrapping(setup),
        keys=StaticKeyring.generate(),  # passkey decoys
    )
    kinds = ("totp", "oob", "passkey")
    principals = [CAP_USER] + [_principal(k, r) for k in kinds for r in range(ROUNDS)]
    principals += [_principal("cert", r) for r in range(CERT_ROUNDS)]
    store.commit([PutAccount(p, 0, Account(p, Role.USER, fw.FROZEN)) for p in principals], [])
    reader, card_id = _cap_card(setup, service)
    credential = TotpCredential(SECRET, fw.FROZEN, confirmed_at=fw.FROZEN)
    totp_code = code_at(credential, fw.FROZEN)
    tasks = []
    counters = {}
    for r in range(ROUNDS):
        totp_user, oob_user = _principal("totp", r), _principal("oob", r)
        service.store_totp(totp_user, credential)
        issued = issue_oob(
            oob_user,
            channel=Channel.SMS,
            destination="+33 6 12 34 56 78",
            purpose="login",
            reference="attempt",
            now=fw.FROZEN,
            rules=OobRules(),
            hasher=fw.hasher(setup),
            user_log=SendLog(),
            destination_log=SendLog(),
        )
        assert issued.challenge is not None
        assert issued.code is not None
        challenge = issued.challenge
        service.put_state(oob_user, fc.OOB, challenge.id, fc.oob_challenge_to_dict(challenge))
        value = f"{secrets.randbelow(10**8):08d}"
        cap_challenge, _ = issue_challenge(
            fc.cap_card_from_dict(_stored_card(store)),
            challenge_id=f"c{r}",
            value=value,
            purpose="login",
            now=fw.FROZEN,
        )
        service.put_state(
            CAP_USER, fc.CAP_CHALLENGE, f"c{r}", fc.cap_challenge_to_dict(cap_challenge)
        )
        cap_code = str(reader.run(TerminalInput.respond(value), PIN).code)
        tasks += [
            fw.Task("totp", r, (CLIENT, totp_user.user_number.value), (totp_code,)),
            fw.Task(
                "oob", r, (CLIENT, oob_user.user_number.value), (challenge.id, issued.code.reveal())
            ),
            fw.Task("cap", r, (CLIENT, CAP_USER.user_number.value), (card_id, f"c{r}", cap_code)),
        ]
        passkey_user = _principal("passkey", r)
        auth = _passkey(service, passkey_user)
        options, ceremony = service.begin_passkey_authentication(passkey_user)
        assertion = auth.get(options)
        counters[r] = auth.counter
        tasks.append(
            fw.Task(
                "passkey", r, (CLIENT, passkey_user.user_number.value), (ceremony.id, assertion)
            )
        )
    tasks += _certificates(pki, setup, service)
    return tasks, counters


def _stored_card(store: SqlStore) -> dict[str, Any]:
    found = store.get_factor_state(CAP_USER, fc.CAP_CARD, "card-1")
    assert found is not None
    return dict(found.value)


def _race(setup: fw.Setup, tasks: list[fw.Task]) -> list[tuple[Any, ...]]:
    return run_workers(
        fw.race, lambda w: (setup, w, tasks), workers=WORKERS, expected=WORKERS * len(tasks)
    )


@pytest.mark.slow
def test_a_factor_code_is_accepted_once_by_eight_processes(database_url: str) -> None:
    pki = TestPki(fw.FROZEN)
    setup = fw.Setup(
        url=database_url,
        audit_key=secrets.token_bytes(32),
        pepper=secrets.token_bytes(32),
        imk=secrets.token_bytes(16),
        wrap_key=secrets.token_bytes(32),
        cert_root=pki.root.der,
        cert_crls=(
            (pki.crl(), pki.intermediate.der),
            (pki.crl(issuer=pki.root), pki.root.der),
        ),
    )
    engine = create_engine(database_url)
    try:
        store = SqlStore(engine, audit_key=setup.audit_key)
        tasks, counters = _prepare(setup, store, pki)
        outcomes: dict[tuple[str, int], dict[int, str]] = {}
        for kind, round_, worker, outcome in _race(setup, tasks):
            outcomes.setdefault((kind, round_), {})[worker] = outcome
        audit = list(store.audit_log())
        successes = Counter(
            (s.event.action, s.event.subject) for s in audit if s.event.outcome == "success"
        )
        for r in range(ROUNDS):
            for kind in ("totp", "oob", "cap", "passkey"):
                counted = Counter(outcomes[(kind, r)].values())
                assert counted["accepted"] == 1, (kind, r, counted)
                assert counted["rejected"] + counted["gave_up"] == WORKERS - 1, (kind, r)
            totp_user, oob_user = _principal("totp", r), _principal("oob", r)
            assert successes[("login.totp", totp_user.key)] == 1
            assert successes[("login.sms_code", oob_user.key)] == 1
            rejected = Counter(outcomes[("totp", r)].values())["rejected"]
            assert store.get_lockout(totp_user).value.failures == rejected
            stored = store.get_factor_state(totp_user, fc.TOTP, DEFAULT_ITEM)
            assert stored is not None
            keys, item = fw.wrapping(setup), DEFAULT_ITEM
            credential = fc.totp_from_dict(stored.value, keys=keys, principal=totp_user, item=item)
            assert credential.last_step is not None
            challenges = store.factor_states(oob_user, fc.OOB)
            assert len(challenges) == 1
            assert fc.oob_challenge_from_dict(challenges[0][1].value).consumed_at is not None
            cap = store.get_factor_state(CAP_USER, fc.CAP_CHALLENGE, f"c{r}")
            assert cap is not None
            assert fc.cap_challenge_from_dict(cap.value).used_at is not None
            passkey_user = _principal("passkey", r)
            assert successes[("login.passkey", passkey_user.key)] == 1
            rejected = Counter(outcomes[("passkey", r)].values())["rejected"]
            assert store.get_lockout(passkey_user).value.failures == rejected
            ceremonies = store.factor_states(passkey_user, fc.WEBAUTHN_CEREMONY)
            assert len(ceremonies) == 1
            assert fc.ceremony_from_dict(ceremonies[0][1].value).consumed_at is not None
            stored_keys = store.get_factor_state(passkey_user, fc.PASSKEYS, DEFAULT_ITEM)
            assert stored_keys is not None
            (passkey,) = fc.passkeys_from_dict(stored_keys.value).passkeys
            assert passkey.sign_count == counters[r]
            assert passkey.suspended_at is None
        for r in range(CERT_ROUNDS):
            counted = Counter(outcomes[("cert", r)].values())
            assert counted["accepted"] == 1, ("cert", r, counted)
            assert counted["rejected"] + counted["gave_up"] == WORKERS - 1, ("cert", r)
            cert_user = _principal("cert", r)
            assert successes[("login.certificate", cert_user.key)] == 1
            assert store.get_lockout(cert_user).value.failures == counted["rejected"]
            (stored_challenge,) = store.factor_states(cert_user, fc.CERT_CHALLENGE)
            spent = fc.cert_challenge_from_dict(stored_challenge[1].value)
            assert spent.used_at is not None
            assert stored_challenge[1].version == 2  # issued, then consumed once
        assert successes[("cap.respond", CAP_USER.key)] == ROUNDS
        card = fc.cap_card_from_dict(_stored_card(store))
        assert card.last_used_at is not None
        assert verify_audit_chains(setup.audit_key, store).total == len(audit)
    finally:
        engine.dispose()
