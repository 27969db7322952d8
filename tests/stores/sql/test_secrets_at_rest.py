"""Issue 11, done-when: a database holding every factor holds no secret in clear.

Every factor is enrolled through the services (confidential code, TOTP, an out-of-band
destination and an issued code, recovery codes, a CAP card, a certificate, a passkey) onto
SQLite and PostgreSQL. The database is then dumped (SQLite: ``iterdump`` and the raw bytes of
the database file and its WAL; PostgreSQL: every row of every table as text) and searched
for every secret the test knows, in the forms an attacker would try: the TOTP seed raw, as
base32, hex and base64; the codes as typed; the pepper, audit, wrapping, application and
issuer keys; the card master key and the PAN. A control row in the old clear TOTP format
proves the search finds what it looks for.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import text

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.factors.certificate import enrol_certificate
from securebox_auth.factors.oob import Channel, OobMessage
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.recovery import generate_recovery_codes
from securebox_auth.factors.totp import code_at, enrol_totp
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal
from securebox_auth.policy.session import open_session
from securebox_auth.shell.base import DEFAULT_ITEM
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.shell.factors import FactorService
from securebox_auth.shell.sessions import SessionService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import PutFactorState
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.schema import METADATA
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_auth.testing.pki import TestPki
from tests.cards.capworld import make_world
from tests.support import NOW, STRONG_CODES

P: Final = Principal.parse("123456789", "01")
CONTROL: Final = Principal.parse("123456789", "09")
SEED: Final = bytes.fromhex("8f3a61c27be04d9915aa03e6c4d2b78f90e1a5c3")
OOB_CODE: Final = "482913"
PHONE: Final = "+33 6 12 34 56 78"
PEPPER: Final = bytes.fromhex("a1" * 16 + "b2" * 16)
AUDIT: Final = bytes.fromhex("c3" * 16 + "d4" * 16)
WRAP: Final = bytes.fromhex("e5" * 16 + "f6" * 16)
APP: Final = bytes.fromhex("17" * 16 + "28" * 16)
RP: Final = RelyingParty(
    id="bank.example", name="Bank", origins=frozenset({"https://bank.example"})
)


def _forms(secret: bytes) -> set[bytes]:
    """The encodings of ``secret`` a search of a dump would try."""
    b32 = base64.b32encode(secret)
    b64 = base64.b64encode(secret)
    url = base64.urlsafe_b64encode(secret)
    return {
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        b32,
        b32.rstrip(b"="),
        b64,
        b64.rstrip(b"="),
        url.rstrip(b"="),
    }


@dataclass
class Enrolled:
    """Every secret the test enrolled, by name."""

    secrets: dict[str, set[bytes]] = field(default_factory=dict)

    def add(self, name: str, value: bytes | str) -> None:
        if isinstance(value, str):
            self.secrets[name] = {value.encode()}
        else:
            self.secrets[name] = _forms(value)

    def found_in(self, haystack: bytes) -> list[str]:
        return sorted(
            name for name, forms in self.secrets.items() if any(f in haystack for f in forms)
        )


@dataclass
class Outbox:
    sent: list[OobMessage] = field(default_factory=list)

    def send(self, message: OobMessage) -> None:
        self.sent.append(message)


def _enrol_everything(url: str) -> Enrolled:
    enrolled = Enrolled()
    engine = create_engine(url)
    try:
        store = SqlStore(engine, audit_key=AUDIT)
        clock = FixedClock(NOW)
        hasher = Argon2CodeHasher(StaticKeyring({"p1": PEPPER}, "p1"), PROFILE_TESTING)
        app = StaticKeyring({"a1": APP}, "a1")
        wrapping = StaticKeyring({"w1": WRAP}, "w1")
        world = make_world()
        # -- confidential code: a one-time code, changed at the first login ---------------
        codes = ConfidentialCodeService(store, hasher, clock=clock)
        one_time = codes.create_account(Operator("back-office"), P, Role.USER).reveal()
        personal = STRONG_CODES[0]
        changed = codes.change_code(P.client_id.value, P.user_number.value, one_time, personal)
        assert changed.changed
        assert codes.login(P.client_id.value, P.user_number.value, personal).authenticated
        enrolled.add("one-time code", one_time)
        enrolled.add("confidential code", personal)
        factors = FactorService(
            store,
            clock=clock,
            hasher=hasher,
            keys=app,
            issuer=world.issuer,
            relying_party=RP,
            wrapping=wrapping,
        )
        # -- TOTP ----------------------------------------------------------------------------
        enrolment = enrol_totp(P, now=NOW, issuer="Bank", secret=SEED)
        factors.store_totp(P, enrolment.credential)
        assert factors.confirm_totp(P, code_at(enrolment.credential, NOW)).ok
        clock.advance(timedelta(seconds=30))
        assert factors.verify_totp(P, code_at(enrolment.credential, clock.at)).ok
        enrolled.add("TOTP seed", SEED)
        enrolled.add("TOTP seed (base32 text)", enrolment.secret())
        # -- out-of-band: a destination and an issued code -----------------------------------
        outbox = Outbox()
        issued = factors.issue_oob(
            P, channel=Channel.SMS, destination=PHONE, purpose="login", reference="attempt-1",
            gateway=outbox, code=OOB_CODE,
        )  # fmt: skip
        assert issued.ok
        assert OOB_CODE in outbox.sent[0].body
        enrolled.add("OOB code", OOB_CODE)
        enrolled.add("OOB destination", PHONE)
        enrolled.add("OOB destination (digits)", PHONE.replace(" ", ""))
        # -- recovery codes ------------------------------------------------------------------
        shown, recovery, event = generate_recovery_codes(P, now=NOW, hasher=hasher, keys=app)
        factors.put_state(P, fc.RECOVERY, DEFAULT_ITEM, fc.recovery_to_dict(recovery), (event,))
        for i, code in enumerate(shown.reveal()):
            enrolled.add(f"recovery code {i}", code)
            enrolled.add(f"recovery code {i} (compact)", code.replace("-", ""))
        # -- CAP card --------------------------------------------------------------------------
        record = world.record
        factors.put_state(P, fc.CAP_CARD, record.card_id, fc.cap_card_to_dict(record))
        enrolled.add("PAN", world.pan)
        enrolled.add("card master key", world.issuer.personalisation_key(world.pan, "01"))
        enrolled.add("issuer master key", world.issuer._imks["imk1"])  # the test owns it
        enrolled.add("card key wrapping key", world.issuer._wrap_key)
        # -- certificate -----------------------------------------------------------------------
        pki = TestPki(NOW)
        crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW)
        crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=NOW)
        from securebox_auth.factors.certificate import Revocation  # noqa: PLC0415

        credential, event = enrol_certificate(
            P, pki.issue("alice").pem, intermediates=[pki.intermediate.pem],
            trust=TrustSettings(anchors=(pki.root.cert,)), revocation=Revocation(crls=crls),
            now=NOW,
        )  # fmt: skip
        document = fc.cert_credential_to_dict(credential)
        factors.put_state(P, fc.CERTIFICATE, DEFAULT_ITEM, document, (event,))
        factors.issue_cert_challenge(P, purpose="login", audience="https://portal.example")
        # -- passkey ---------------------------------------------------------------------------
        auth = SoftAuthenticator()
        options, ceremony, owned = begin_registration(
            RP, P, None, now=NOW, user_name="123456789-01", display_name="Jeanne Martin"
        )
        registered = finish_registration(RP, ceremony, owned, P, auth.create(options), now=NOW)
        assert registered.passkeys is not None
        passkeys = fc.passkeys_to_dict(registered.passkeys)
        factors.put_state(P, fc.PASSKEYS, DEFAULT_ITEM, passkeys)
        factors.begin_passkey_authentication(P)
        # -- a session: its identifier is a bearer credential, stored as a digest ------------
        sessions = SessionService(store, clock=clock)
        session_id = sessions.open(open_session(P, "web", ["confidential_code", "totp"], NOW))
        enrolled.add("session identifier", session_id)
        # -- the keys themselves ---------------------------------------------------------------
        for name, key in (("pepper", PEPPER), ("audit", AUDIT), ("wrap", WRAP), ("app", APP)):
            enrolled.add(f"{name} key", key)
    finally:
        engine.dispose()
    return enrolled


def _plant_clear_control(url: str) -> Enrolled:
    """A legacy clear TOTP row (format 1), written behind the services' back: the search
    must find it, or it proves nothing."""
    control = Enrolled()
    engine = create_engine(url)
    try:
        seed = bytes(range(20))
        text_seed = base64.b32encode(seed).decode().rstrip("=")
        legacy = {
            "v": 1, "secret": text_seed, "created_at": NOW.isoformat(), "algorithm": "SHA1",
            "digits": 6, "period": 30, "confirmed_at": None, "last_step": None,
        }  # fmt: skip
        SqlStore(engine, audit_key=AUDIT).commit(
            [PutFactorState(CONTROL, fc.TOTP, DEFAULT_ITEM, 0, legacy)], []
        )
        control.add("control seed (base32 text)", text_seed)
    finally:
        engine.dispose()
    return control


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _sqlite_dumps(url: str) -> tuple[bytes, bytes]:
    """``iterdump`` of the database, and the raw bytes of its file, WAL and shared memory."""
    path = _sqlite_path(url)
    connection = sqlite3.connect(path)
    try:
        dump = "\n".join(connection.iterdump()).encode()
    finally:
        connection.close()
    raw = b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
    return dump, raw


def _postgres_dump(url: str) -> bytes:
    """Every row of every table as text (pg_dump may not be installed)."""
    engine = create_engine(url)
    lines: list[str] = []
    try:
        with engine.connect() as conn:
            for table in METADATA.sorted_tables:
                rows = conn.execute(text(f"SELECT t::text FROM {table.name} t"))  # noqa: S608
                lines.extend(str(row[0]) for row in rows)
    finally:
        engine.dispose()
    return "\n".join(lines).encode()


def _dumps(url: str) -> Iterable[tuple[str, bytes]]:
    if url.startswith("sqlite"):
        dump, raw = _sqlite_dumps(url)
        return [("iterdump", dump), ("raw file bytes", raw)]
    return [("rows as text", _postgres_dump(url))]


def test_no_enrolled_secret_is_in_the_database(database_url: str) -> None:
    enrolled = _enrol_everything(database_url)
    dumps = list(_dumps(database_url))
    # The factors really are in there: the wrapped seed, the peppered hashes, the card, the
    # passkey, the certificate challenge.
    markers = (b"A256GCM", b"sbx1$p1$", b"card-pinsentry_uk", b"public_key", b"cert_challenge")
    for what, dump in dumps:
        assert all(m in dump for m in markers), what
        assert enrolled.found_in(dump) == [], what
    control = _plant_clear_control(database_url)
    for what, dump in _dumps(database_url):
        assert control.found_in(dump) == ["control seed (base32 text)"], what
