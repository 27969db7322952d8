"""What the live server's methods need, made for real and on loopback: a CAP issuer file and
software cards bound the bank's way, a SoftHSM2 token whose certificate chains to a test PKI
dated now (the server reads the system clock), the passkey relying party's authenticator, an
aiosmtpd SMTP server and an http.server SMS webhook (``tests.server.methods.conftest``)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Final

from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key

from securebox_auth.cards.cardfile import demo_card, luhn_pan
from securebox_auth.cards.reader import CapReader
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.emv.profiles import TerminalInput, get_profile
from securebox_auth.factors.cap import CardParameters
from securebox_auth.factors.certificate import Revocation, enrol_certificate
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_auth.testing.pki import Issued, TestPki
from tests.cards.test_pkcs11_softhsm import KEY_ID, LABEL, PIN, SO_PIN, SOFTHSM_MODULE
from tests.server.methods.conftest import Mailbox, SmsProvider, Webhook

__all__ = ["CARD_PIN", "Card", "SoftToken", "mail_server", "passkey", "sms_webhook", "soft_token"]

CARD_PIN: Final = "2468"
PROFILE: Final = "pinsentry_uk"


@dataclass
class Card:
    """A software CAP card in its reader (the card's file keeps its counter)."""

    card: SoftEmvCard

    def code(self, typed: TerminalInput) -> str:
        return str(CapReader(self.card, get_profile(PROFILE)).run(typed, CARD_PIN).display)


def bind_card(box: Securebox, principal: Principal, path: Path, card_id: str) -> Card:
    """Personalise a card with the issuer's keys and bind it by a first Identify code."""
    issuer, keys = box.factors.issuer, box.factors.keys
    assert isinstance(issuer, SoftwareIssuerKeys)
    assert keys is not None
    pan, psn = luhn_pan("999999"), "01"
    state = demo_card(
        "uk", master_key=issuer.personalisation_key(pan, psn), pan=pan, psn=psn, pin=CARD_PIN
    )
    state.save(path)
    card = Card(SoftEmvCard(state, path=path))
    parameters = CardParameters(
        recipe=state.recipe, aip=state.aip, ipb=state.ipb, iaf=state.iaf, cdol1=state.cdol1,
        predicted_iad=state.predicted_iad(), profile=PROFILE,
    )  # fmt: skip
    bound = box.factors.cap.bind_card(
        principal, card_id=card_id, pan=pan, psn=psn, parameters=parameters, pan_keys=keys,
        code=card.code(TerminalInput.identify()), actor="back-office",
    )  # fmt: skip
    assert bound.ok, bound.reason
    return card


def passkey(box: Securebox, principal: Principal, origin: str) -> SoftAuthenticator:
    """A passkey registered the library's way for the relying party ``localhost``."""
    device = SoftAuthenticator(origin=origin, rp_id="localhost")
    options, ceremony = box.factors.passkeys.begin_registration(
        principal, user_name=principal.key, display_name="Live user"
    )
    done = box.factors.passkeys.finish_registration(principal, ceremony.id, device.create(options))
    assert done.ok
    return device


@dataclass
class SoftToken:
    """A SoftHSM2 token (its ``SOFTHSM2_CONF``) holding a key and its certificate."""

    conf: Path
    pki: TestPki
    issued: Issued
    anchors: Path
    crls: tuple[Path, ...]
    trust: TrustSettings
    revocation: Revocation

    def enrol(self, box: Securebox, principal: Principal) -> None:
        now = datetime.now(UTC)
        credential, _ = enrol_certificate(
            principal, self.issued.pem, intermediates=[self.pki.intermediate.pem],
            trust=self.trust, revocation=self.revocation, now=now,
        )  # fmt: skip
        box.factors.put_state(
            principal, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(credential)
        )


def soft_token(base: Path) -> SoftToken | str:
    """A token and the server's anchors and CRL files, or why there is none."""
    util = shutil.which("softhsm2-util")
    if util is None or not SOFTHSM_MODULE.exists():
        return "softhsm2 is not installed (apt-get install softhsm2)"
    if importlib.util.find_spec("pkcs11") is None:
        return "python-pkcs11 is not installed"
    import pkcs11  # noqa: PLC0415 - optional
    from pkcs11 import Attribute, KeyType, ObjectClass  # noqa: PLC0415
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters  # noqa: PLC0415

    (base / "tokens").mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(  # noqa: S603 - fixed arguments
        [util, "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN],
        check=True, capture_output=True, timeout=30, env=env,
    )  # fmt: skip
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        library = pkcs11.lib(str(SOFTHSM_MODULE))
        library.reinitialize()
        now = datetime.now(UTC)
        pki = TestPki(now)
        with library.get_token(token_label=LABEL).open(rw=True, user_pin=PIN) as session:
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            public, _ = params.generate_keypair(
                store=True, label="securebox", id=KEY_ID,
                private_template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True},
            )  # fmt: skip
            issued = pki.issue("live user", public_key=load_der_public_key(
                encode_ec_public_key(public)))  # fmt: skip
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.ID: KEY_ID,
                    Attribute.LABEL: "securebox",
                    Attribute.SUBJECT: issued.cert.subject.public_bytes(),
                    Attribute.VALUE: issued.cert.public_bytes(Encoding.DER),
                }
            )
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old
    anchors = base / "anchors.pem"
    anchors.write_bytes(pki.root.pem + pki.intermediate.pem)
    crl_files = (base / "intermediate.crl", base / "root.crl")
    crl_files[0].write_bytes(pki.crl())
    crl_files[1].write_bytes(pki.crl(issuer=pki.root))
    trust = TrustSettings(anchors=(pki.root.cert,))
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=now)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=now)
    return SoftToken(conf, pki, issued, anchors, crl_files, trust, Revocation(crls=crls))


@contextmanager
def mail_server() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


@contextmanager
def sms_webhook() -> Iterator[SmsProvider]:
    handler = type("LiveHook", (Webhook,), {"received": [], "status": [200]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SmsProvider(server, handler)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
