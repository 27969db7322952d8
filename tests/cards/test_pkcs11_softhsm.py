"""PKCS#11 end to end with a real SoftHSM2 token: challenge -> token signature -> verify.

The token lives in a temporary directory (``SOFTHSM2_CONF``), is initialised with
``softhsm2-util --init-token``, gets a P-256 key generated on the token (sensitive, not
extractable) and the certificate the test CA issued for it. SoftHSM2 never locks a PIN, so
PIN blocking is tested with the software PIV card instead. Without softhsm2 or
python-pkcs11 the tests skip with the reason, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key

from securebox_auth.errors import ConfigurationError

if TYPE_CHECKING:
    from securebox_auth.cards.pkcs11_client import TokenSelector
from securebox_auth.factors.certificate import (
    CertCredential,
    CertFailure,
    Revocation,
    enrol_certificate,
    issue_cert_challenge,
    new_nonce,
    verify_cert_challenge,
)
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.testing.pki import TestPki
from tests.support import NOW

SOFTHSM_MODULE: Final = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN: Final = "246810"
SO_PIN: Final = "13579135"
LABEL: Final = "securebox-test"
KEY_ID: Final = b"\x01"
P: Final = Principal.parse("123456789", "01")
AUD: Final = "https://portal.example.test"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"SoftHSM2 is required in CI: {reason}", pytrace=False)
    print(f"\nSoftHSM2 tests skipped: {reason}", file=sys.stderr)
    pytest.skip(f"SoftHSM2 unavailable: {reason}")


@dataclass
class Token:
    pki: TestPki
    credential: CertCredential
    trust: TrustSettings
    revocation: Revocation


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    util = shutil.which("softhsm2-util")
    if util is None or not SOFTHSM_MODULE.exists():
        _unavailable("softhsm2 is not installed (apt-get install softhsm2)")
    if importlib.util.find_spec("pkcs11") is None:
        _unavailable("python-pkcs11 is not installed (pip install python-pkcs11)")
    import pkcs11  # noqa: PLC0415 - optional
    from pkcs11 import Attribute, KeyType, ObjectClass  # noqa: PLC0415
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters  # noqa: PLC0415

    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        subprocess.run(  # noqa: S603 - fixed arguments
            [util, "--init-token", "--free", "--label", LABEL, "--pin", PIN,
             "--so-pin", SO_PIN],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        library = pkcs11.lib(str(SOFTHSM_MODULE))
        library.reinitialize()  # SoftHSM2 reads SOFTHSM2_CONF when initialised
        pki = TestPki(NOW)
        with library.get_token(token_label=LABEL).open(rw=True, user_pin=PIN) as session:
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            public, _private = params.generate_keypair(
                store=True,
                label="securebox",
                id=KEY_ID,
                private_template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True},
            )
            spki = load_der_public_key(encode_ec_public_key(public))
            issued = pki.issue("token user", public_key=spki)
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
        trust = TrustSettings(anchors=(pki.root.cert,))
        crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW)
        crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=NOW)
        revocation = Revocation(crls=crls)
        credential, _ = enrol_certificate(
            P,
            issued.pem,
            intermediates=[pki.intermediate.pem],
            trust=trust,
            revocation=revocation,
            now=NOW,
        )
        yield Token(pki, credential, trust, revocation)
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old


def _selector(
    *,
    module: str = str(SOFTHSM_MODULE),
    token_label: str | None = LABEL,
    slot_description: str | None = None,
    key_id: bytes | None = None,
) -> TokenSelector:
    from securebox_auth.cards.pkcs11_client import TokenSelector  # noqa: PLC0415 - optional

    return TokenSelector(
        module=module, token_label=token_label, slot_description=slot_description, key_id=key_id
    )


def test_challenge_signed_on_the_token_logs_in(token: Token) -> None:
    from securebox_auth.cards.pkcs11_client import read_certificate, sign_challenge  # noqa: PLC0415

    assert read_certificate(_selector()) == token.credential.certificate
    challenge, _ = issue_cert_challenge(
        P, challenge_id="c1", nonce=new_nonce(), purpose="login", audience=AUD, now=NOW
    )
    signed = sign_challenge(challenge.payload(), PIN, _selector(key_id=KEY_ID))
    assert signed.certificate == token.credential.certificate
    verdict = verify_cert_challenge(
        token.credential,
        challenge,
        LockoutState(),
        P,
        signed.signature,
        purpose="login",
        audience=AUD,
        trust=token.trust,
        revocation=token.revocation,
        now=NOW + timedelta(seconds=3),
        lockout_rules=LockoutRules(),
    )
    assert verdict.ok, verdict.reason
    # the same signature over the consumed challenge is a replay
    replay = verify_cert_challenge(
        token.credential,
        verdict.challenge,
        verdict.lockout,
        P,
        signed.signature,
        purpose="login",
        audience=AUD,
        trust=token.trust,
        revocation=token.revocation,
        now=NOW + timedelta(seconds=4),
        lockout_rules=LockoutRules(),
    )
    assert replay.reason is CertFailure.CHALLENGE_USED


def test_wrong_pin_missing_token_and_key_are_typed(token: Token) -> None:
    from securebox_auth.cards.pkcs11_client import (  # noqa: PLC0415
        KeyMissing,
        TokenMissing,
        WrongPin,
        sign_challenge,
    )

    with pytest.raises(WrongPin) as caught:
        sign_challenge(b"payload", "000000", _selector())
    assert caught.value.code == "token_wrong_pin"
    with pytest.raises(TokenMissing):
        sign_challenge(b"payload", PIN, _selector(token_label="no-such-token"))
    with pytest.raises(TokenMissing):
        sign_challenge(b"payload", PIN, _selector(slot_description="No Such Reader"))
    with pytest.raises(KeyMissing):
        sign_challenge(b"payload", PIN, _selector(key_id=b"\x99"))
    with pytest.raises(ConfigurationError):
        sign_challenge(b"payload", PIN, _selector(module="/nonexistent/module.so"))


def test_sign_challenge_command(
    token: Token, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64  # noqa: PLC0415
    import getpass  # noqa: PLC0415
    import json  # noqa: PLC0415

    from securebox_auth.cli import main  # noqa: PLC0415

    common = ["--module", str(SOFTHSM_MODULE), "--token", LABEL, "--key-id", "01"]
    assert main(["token", "certificate", *common]) == 0
    assert capsys.readouterr().out.startswith("-----BEGIN CERTIFICATE-----")
    challenge, _ = issue_cert_challenge(
        P, challenge_id="cli", nonce=new_nonce(), purpose="login", audience=AUD, now=NOW
    )
    text = base64.urlsafe_b64encode(challenge.payload()).decode().rstrip("=")
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": PIN)
    assert main(["token", "sign-challenge", *common, text]) == 0
    answer = json.loads(capsys.readouterr().out)
    signature = base64.urlsafe_b64decode(
        answer["signature"] + "=" * (-len(answer["signature"]) % 4)
    )
    verdict = verify_cert_challenge(
        token.credential,
        challenge,
        LockoutState(),
        P,
        signature,
        purpose="login",
        audience=AUD,
        trust=token.trust,
        revocation=token.revocation,
        now=NOW + timedelta(seconds=3),
        lockout_rules=LockoutRules(),
    )
    assert verdict.ok
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "000000")
    assert main(["token", "sign-challenge", *common, text]) == 2
    assert "token_wrong_pin" in capsys.readouterr().err
    assert main(["token", "sign-challenge", *common, "!!"]) == 2
