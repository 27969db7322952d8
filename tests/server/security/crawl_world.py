"""The world the crawl (``tests/server/security/test_crawl.py``) walks: the admin world
(``tests/server/admin/world.py``) with every factor the pages ask for, so that the pages
behind them are crawled and their forms checked.

* A policy that also offers codes by SMS and e-mail (at login, as the demo's, and for the
  step-up of a change of entitlements) and recovery by secret questions.
* Passkeys (the public URL's relying party), CAP (a software issuer and the demo's
  virtual reader with its software card), certificates (a test PKI, and a trusted reverse
  proxy at :data:`PROXY` forwarding a browser's certificate: every browser of this world
  connects from it).
* The administrator has a passkey, a certificate and a verified phone number and e-mail
  address; the company C1 has a notification address.
* Users of their own, after the matrix world's 04 and 05: :data:`CARD_HOLDER` (the demo's
  CAP card), :data:`MESSAGES` (codes by SMS and e-mail, never strongly logged in),
  :data:`FIRST` (a new account's one-time code, :attr:`Kit.first_code`), :data:`BLOCKED`
  (blocked for good) and :data:`PENDING` (an authenticator application awaiting its first
  code).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Final
from urllib.parse import quote

import pytest

from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.entitlements.accounts import Role
from securebox_auth.factors.certificate import Revocation
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.loader import load_policy
from securebox_auth.policy.model import Policy
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.stores.protocols import PutLockout
from securebox_auth.testing.pki import TestPki
from securebox_server.demo_cap import seed_cap_card
from securebox_server.settings import DEFAULT_POLICY
from securebox_server.wiring import DEMO_ISSUER_PASSPHRASE
from tests.server.admin.world import (
    ADMIN,
    BACK_OFFICE,
    C1,
    CLIENT,
    PRINCIPAL,
    Admin,
    Equipment,
    with_code,
)
from tests.server.box.conftest import T0, who
from tests.server.boxes import enrol_client_certificate
from tests.server.conftest import CODE
from tests.server.methods.conftest import (
    Enrol,
    enrol,  # noqa: F401 (a fixture, by name)
)
from tests.server.methods.test_passkey import enrol as enrol_passkey

CARD_HOLDER: Final = who(CLIENT, "06")
MESSAGES: Final = who(CLIENT, "07")
FIRST: Final = who(CLIENT, "08")
BLOCKED: Final = who(CLIENT, "09")
PENDING: Final = who(CLIENT, "10")
PHONE: Final = "+33639980042"
EMAIL: Final = "verified@acme.example"
#: the trusted reverse proxy the browsers connect from (it forwards a TLS client certificate)
PROXY: Final = "127.0.0.2"
#: the header a browser's certificate is forwarded in (the settings' default)
CERTIFICATE_HEADER: Final = "X-SSL-Client-Cert"
MESSAGE_METHODS: Final = ("sms_otp", "email_otp")


@dataclass
class Kit:
    """What the crawl needs of the world's making: the certificate a browser presents (as
    the proxy forwards it) and the one-time code of :data:`FIRST`."""

    presented: str
    first_code: str = ""


def crawl_policy() -> Policy:
    """The shipped policy, with codes by SMS and e-mail at login and for the step-up of a
    change of entitlements (one right after the other), and secret questions."""
    base = load_policy(DEFAULT_POLICY)
    operations = tuple(
        replace(rule, methods=(*rule.methods, *MESSAGE_METHODS))
        if rule.name == "entitlements_management"
        else rule
        for rule in base.operations
    )
    return replace(
        base,
        login=replace(base.login, methods=(*base.login.methods, *MESSAGE_METHODS)),
        recovery=replace(base.recovery, secret_questions=True),
        # the crawl's clock stands still: a code by e-mail right after one by SMS
        oob=replace(base.oob, min_interval=timedelta(0)),
        operations=operations,
    )


@pytest.fixture
def kit() -> Kit:
    """Filled by :func:`equipment` as it makes the world."""
    return Kit(presented="")


@pytest.fixture
def equipment(tmp_path: Path, kit: Kit, enrol: Enrol) -> Equipment:  # noqa: F811
    """Every factor of the module docstring, for the admin world's ``admin`` fixture."""
    issuer_file = tmp_path / "issuer-keys.json"  # a cheap scrypt: the file says which
    SoftwareIssuerKeys.generate().save(issuer_file, DEMO_ISSUER_PASSPHRASE, scrypt_n=2**10)
    pki = TestPki(T0)
    trust = TrustSettings(anchors=(pki.root.cert,))
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=T0)
    revocation = Revocation(crls=add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=T0))
    certificates = CertificateSettings(trust, revocation)
    certificate = pki.issue("administrator")
    kit.presented = quote(certificate.pem.decode())

    def seed(world: Admin) -> None:
        box, clock = world.box, world.clock
        settings = world.app.state.server.settings
        assert seed_cap_card(box, settings, BACK_OFFICE, CARD_HOLDER, CODE) is not None
        for principal in (MESSAGES, FIRST, BLOCKED, PENDING):
            letter = box.codes.create_account(BACK_OFFICE, principal, Role.USER)
            if principal is FIRST:
                kit.first_code = letter.reveal()  # the letter's code, to change at login
            elif principal is MESSAGES:  # never strongly logged in: a second factor
                user = principal.user_number.value
                box.codes.change_code(CLIENT.value, user, letter.reveal(), CODE)
            else:
                with_code(box, principal)
        for principal in (MESSAGES, ADMIN):
            enrol(box, clock, principal, Channel.SMS, PHONE)
            enrol(box, clock, principal, Channel.EMAIL, EMAIL)
        enrol_client_certificate(box, ADMIN, pki, certificate, certificates, T0)
        enrol_passkey(box, ADMIN)
        box.enrol_first_totp(BACK_OFFICE, PENDING)  # never confirmed
        lockout = box.store.get_lockout(BLOCKED)
        box.store.commit([PutLockout(BLOCKED, lockout.version, LockoutState(permanent=True))], [])
        world.documents.set_company_contact(CLIENT, C1, "box@acme.example", actor=PRINCIPAL.key)

    return Equipment(
        policy=crawl_policy(),
        settings={
            "cap_issuer_file": issuer_file,
            "demo_cards_dir": tmp_path / "cards",
            "trusted_proxies": (PROXY,),
        },
        passkeys=True,
        cap_issuer=SoftwareIssuerKeys.load(issuer_file, DEMO_ISSUER_PASSPHRASE),
        certificates=certificates,
        peer=(PROXY, 50000),
        seed=seed,
    )
