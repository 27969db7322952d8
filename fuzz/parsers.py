"""Coverage-guided fuzzing of securebox's parsers with atheris (libFuzzer).

    python3 fuzz/parsers.py TARGET [libFuzzer options, e.g. -max_total_time=60 -runs=100000]

TARGET is one of ``certificate``, ``crl``, ``policy``, ``scenario``, ``assertion``,
``assertion-fido2``, ``registration``, ``token``, ``upload``, ``tlv``, ``apdu``,
``cap-reader``, ``piv``, ``cap-code``, ``client-assertion``, ``jwks``, ``multipart``. Each
target feeds the fuzzer's bytes to one public entry point (``upload``, ``cap-reader`` and
``multipart`` splice them into a real sample, so that they reach the parser past its first
checks; see :func:`_splice`); a :class:`~securebox_auth.errors.SecureboxError` (the
documented error of every parser here) is an expected answer, any other exception is a crash
that libFuzzer reports with the input that caused it.

* ``tlv``: BER-TLV (:mod:`securebox_auth.emv.tlv`: decode, one object, DOLs, depth-first
  search) and the GENERATE AC answer built on it;
* ``apdu``: command and response APDUs (:mod:`securebox_auth.emv.apdu`); a decoded command
  must decode again to itself from its own encoding;
* ``cap-reader``: the CAP reader emulator (:class:`~securebox_auth.cards.reader.CapReader`)
  in front of a card whose answers are the fuzzer's: one answer of a real run of the software
  card changed, or every answer made up;
* ``piv``: the software PIV card's command parser (:class:`~securebox_auth.cards.piv.PivCard`,
  served to pcscd): a sequence of commands, each answered with a status word, never an
  exception;
* ``cap-code``: a CAP code as a user types it: the portal's normalisation
  (:mod:`securebox_server.methods.cap`), then :func:`~securebox_auth.factors.cap.verify_cap`;
* ``client-assertion``: the senders' token endpoint client assertion (RFC 7523,
  :mod:`securebox_server.clients.assertion`): raw, or with the fuzzer's header and claims
  validly signed by the client's key so that the claim checks are reached;
* ``jwks``: a client's registered JWKS (:func:`~securebox_server.clients.keys.parse_jwks`);
* ``multipart``: the ingestion API's ``multipart/form-data`` body
  (:func:`~securebox_server.api.multipart.read_publication`), streamed in two chunks.
``nox -s atheris`` runs every target for a minute. The hypothesis tests of ``-m fuzz`` are
the regression suite; this harness explores further.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import atheris
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

# only the project's modules (and joserfc, which parses the JWTs) are instrumented: coverage of
# our parsers is what guides the fuzzer, and instrumenting every dependency cost a minute a run
with atheris.instrument_imports(include=["securebox_auth", "securebox_server", "joserfc"]):
    from joserfc.jwk import OKPKey
    from starlette.requests import Request

    from securebox_auth.cards.cardfile import demo_card, luhn_pan
    from securebox_auth.cards.piv import PivCard
    from securebox_auth.cards.reader import CapReader
    from securebox_auth.cards.softcard import SoftEmvCard
    from securebox_auth.crypto.keys import StaticKeyring
    from securebox_auth.emv.apdu import CommandApdu, ResponseApdu
    from securebox_auth.emv.genac import GenerateAcResponse
    from securebox_auth.emv.issuer import SoftwareIssuerKeys
    from securebox_auth.emv.profiles import TerminalInput, get_profile
    from securebox_auth.emv.tlv import decode, decode_one, find, parse_dol
    from securebox_auth.errors import SecureboxError
    from securebox_auth.factors.cap import CapRequest, CardParameters, enrol_card, verify_cap
    from securebox_auth.factors.certificate import Revocation, enrol_certificate
    from securebox_auth.factors.webauthn import (
        RelyingParty,
        begin_authentication,
        begin_registration,
        finish_authentication,
        finish_registration,
    )
    from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
    from securebox_auth.identity import Principal
    from securebox_auth.lockout.rules import LockoutRules, LockoutState
    from securebox_auth.policy import from_toml, parse_scenario
    from securebox_auth.testing.authenticator import SoftAuthenticator
    from securebox_auth.testing.pki import TestPki
    from securebox_auth.tokens.assertions import TokenKeys, verify_assertion
    from securebox_server.api.multipart import read_publication
    from securebox_server.box.samples import sample_pdf
    from securebox_server.box.upload import check_upload
    from securebox_server.clients.assertion import claimed_client, verify_client_assertion
    from securebox_server.clients.keys import parse_jwks
    from securebox_server.clients.model import ApiClient, ClientKind, ClientStatus
    from securebox_server.methods.cap import _code as typed_cap_code

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SAMPLE = sample_pdf(title="Relevé de compte", lines=["Madame, Monsieur,"], pages=2)
P = Principal.parse("123456789", "01")


def _certificates() -> dict[str, Callable[[bytes], object]]:
    pki = TestPki(NOW)
    trust = TrustSettings(anchors=(pki.root.cert,))
    revocation = Revocation(crls=add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW))
    chain = [pki.intermediate.pem]
    return {
        "certificate": lambda data: enrol_certificate(
            P, data, intermediates=chain, trust=trust, revocation=revocation, now=NOW
        ),
        "crl": lambda data: add_crl(CrlCache(), data, pki.intermediate.cert, now=NOW),
    }


def _webauthn() -> dict[str, Callable[[bytes], object]]:
    rp = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
    auth = SoftAuthenticator()
    options, reg, owned = begin_registration(rp, P, None, now=NOW, user_name="u", display_name="d")
    registered = finish_registration(rp, reg, owned, P, auth.create(options), now=NOW)
    passkeys = registered.passkeys
    _, ceremony = begin_authentication(rp, P, passkeys, now=NOW)

    def assertion(engine: str) -> Callable[[bytes], object]:
        return lambda data: finish_authentication(
            rp,
            ceremony,
            passkeys,
            LockoutState(),
            P,
            data,
            now=NOW,
            lockout_rules=LockoutRules(),
            engine="fido2" if engine == "fido2" else "fast",
        )

    return {
        "assertion": assertion("fast"),
        "assertion-fido2": assertion("fido2"),
        "registration": lambda data: finish_registration(rp, reg, owned, P, data, now=NOW),
    }


def _splice(seed: bytes, data: bytes) -> bytes:
    """``data`` itself when its first byte is odd; else ``seed`` with ``data[3:]`` written over
    it at the offset that ``data[1:3]`` gives (the header and the trailer mostly stay)."""
    if len(data) < 3 or data[0] & 1:
        return data
    at = int.from_bytes(data[1:3], "big") % len(seed)
    patch = data[3:]
    return seed[:at] + patch + seed[at + len(patch) :]


def _others() -> dict[str, Callable[[bytes], object]]:
    keys = TokenKeys.generate("t1")
    return {
        "policy": from_toml,
        "scenario": parse_scenario,
        "token": lambda data: verify_assertion(
            data.decode("latin-1"), keys=keys, audience="api", issuer="https://iss", now=NOW
        ),
        "upload": lambda data: check_upload(_splice(SAMPLE, data), "document.pdf"),
    }


# -- cards: BER-TLV, APDUs, the CAP reader, the PIV card ---------------------------------------

CAP_PIN = "2468"


def _tlv(data: bytes) -> object:
    """Every TLV entry point on the same bytes: the decoders, a depth-first search of what
    they read (children are decoded again), a DOL and a GENERATE AC answer."""
    for padded in (False, True):
        with contextlib.suppress(SecureboxError):
            find(decode(data, skip_padding=padded), 0x9F26)
    with contextlib.suppress(SecureboxError):
        decode_one(data, expected_tag=0x77)
    with contextlib.suppress(SecureboxError):
        parse_dol(data)
    return GenerateAcResponse.parse(data)


def _apdu(data: bytes) -> object:
    with contextlib.suppress(SecureboxError):
        response = ResponseApdu.decode(data)
        assert ResponseApdu.decode(response.encode()) == response
        response.tries_left()
    command = CommandApdu.decode(data)
    again = CommandApdu.decode(command.encode())
    assert again == command, (command, again)
    return again


class _Recorder:
    """A transport in front of the software card that keeps every answer."""

    def __init__(self, card: SoftEmvCard) -> None:
        self.card = card
        self.answers: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.card.transmit(apdu)
        self.answers.append(answer)
        return answer


class _Scripted:
    """A card that answers a script (then ``6A82``), at most 4096 commands."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.sent = 0

    def transmit(self, apdu: bytes) -> bytes:
        if self.sent >= 4096:  # a reader only loops over what the card announced
            raise AssertionError("the reader sent more than 4096 commands")
        answer = self.answers[self.sent] if self.sent < len(self.answers) else b"\x6a\x82"
        self.sent += 1
        return answer


def _made_up(data: bytes) -> list[bytes]:
    """Length-prefixed answers (one length byte each)."""
    answers, at = [], 0
    while at < len(data):
        size = data[at]
        answers.append(data[at + 1 : at + 1 + size])
        at += 1 + size
    return answers


def _cards() -> dict[str, Callable[[bytes], object]]:
    issuer = SoftwareIssuerKeys({"imk1": bytes(range(16))}, "imk1", bytes(32))
    pan, psn = luhn_pan("999999"), "01"
    transcripts = []
    for kind, profile in (("uk", "pinsentry_uk"), ("be", "vasco_cap")):
        state = demo_card(
            kind, master_key=issuer.personalisation_key(pan, psn), pan=pan, psn=psn, pin=CAP_PIN
        )
        recorder = _Recorder(SoftEmvCard(state))
        CapReader(recorder, get_profile(profile)).run(TerminalInput.identify(), CAP_PIN)
        transcripts.append((get_profile(profile), recorder.answers))

    def cap_reader(data: bytes) -> object:
        """``data[0]``: bit 1 the profile; odd: every answer from ``data[1:]``; even: the
        real run's answer ``data[1]`` spliced with ``data[2:]``."""
        if len(data) < 2:
            return None
        profile, real = transcripts[(data[0] >> 1) & 1]
        if data[0] & 1:
            answers = _made_up(data[1:])
        else:
            answers = list(real)
            at = data[1] % len(answers)
            answers[at] = _splice(answers[at], data[2:]) if answers[at] else data[2:]
        return CapReader(_Scripted(answers), profile).run(TerminalInput.identify(), CAP_PIN)

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PIV")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    login = bytes.fromhex("0020008008") + b"123456\xff\xff"

    def piv(data: bytes) -> object:
        """Length-prefixed commands to a fresh card (logged in first when ``data[0]`` is
        odd); every answer ends with a status word."""
        if not data:
            return None
        card = PivCard(key, certificate)
        commands = [login] if data[0] & 1 else []
        for command in [*commands, *_made_up(data[1:])]:
            answer = card.process(command)
            assert len(answer) >= 2, (command, answer)
        return card

    return {"tlv": _tlv, "apdu": _apdu, "cap-reader": cap_reader, "piv": piv}


def _cap_code() -> Callable[[bytes], object]:
    issuer = SoftwareIssuerKeys({"imk1": bytes(range(16))}, "imk1", bytes(32))
    pan, psn = luhn_pan("999999"), "01"
    state = demo_card(
        "uk", master_key=issuer.personalisation_key(pan, psn), pan=pan, psn=psn, pin=CAP_PIN
    )
    parameters = CardParameters(
        recipe=state.recipe,
        aip=state.aip,
        ipb=state.ipb,
        iaf=state.iaf,
        cdol1=state.cdol1,
        predicted_iad=state.predicted_iad(),
        profile="pinsentry_uk",
    )
    record, _ = enrol_card(
        card_id="card-1",
        subject="123456789/01",
        pan=pan,
        psn=psn,
        parameters=parameters,
        issuer=issuer,
        pan_keys=StaticKeyring.generate("app"),
        now=NOW,
    )
    request = CapRequest.identify()

    def verify(code: str) -> object:
        return verify_cap(
            record,
            request,
            code,
            lockout=LockoutState(),
            now=NOW,
            issuer=issuer,
            lockout_rules=LockoutRules(),
        )

    def cap_code(data: bytes) -> object:
        """The text as typed: straight to the verifier, and through the portal's
        normalisation (a code it keeps is then verified)."""
        text = data.decode("utf-8", "replace")
        with contextlib.suppress(SecureboxError):
            verify(text)
        typed = typed_cap_code(text)
        return None if typed is None else verify(typed)

    return cap_code


# -- the server: client assertions, JWKS, multipart bodies -----------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _clients() -> dict[str, Callable[[bytes], object]]:
    private = ed25519.Ed25519PrivateKey.generate()
    public = OKPKey.import_key(private.public_key()).as_dict(private=False)
    jwks, _ = parse_jwks({"keys": [{**public, "kid": "k1"}]})
    client = ApiClient(
        client_id="snd_a",
        kind=ClientKind.SENDER,
        name="Sender",
        scopes=frozenset({"documents:publish"}),
        status=ClientStatus.ACTIVE,
        created_at=NOW,
        sender="s1",
        jwks=jwks,
    )
    audiences = frozenset({"https://box.example/api/v1/oauth/token", "https://box.example"})
    header = json.dumps({"alg": "EdDSA", "kid": "k1"}).encode()
    t = int(NOW.timestamp())
    good = {"iss": "snd_a", "sub": "snd_a", "aud": "https://box.example", "exp": t + 60}
    claims_seed = json.dumps({**good, "iat": t, "nbf": t, "jti": "j1"}).encode()
    jwks_seed = json.dumps(jwks).encode()

    def client_assertion(data: bytes) -> object:
        """``data[0]`` odd: ``data[1:]`` is the assertion; even: ``data[1:]`` is the claims
        (with bit 1: ``header\\nclaims``), spliced into good claims (:func:`_splice`) and
        signed with the client's key."""
        if not data:
            return None
        if data[0] & 1:
            assertion = data[1:].decode("latin-1")
        else:
            head, claims = header, data[1:]
            if data[0] & 2:
                head, _, claims = claims.partition(b"\n")
            claims = _splice(claims_seed, claims) if claims else claims
            signing_input = f"{_b64(head)}.{_b64(claims)}"
            signature = private.sign(signing_input.encode("ascii"))
            assertion = f"{signing_input}.{_b64(signature)}"
        claimed_client(assertion)
        return verify_client_assertion(assertion, client, "snd_a", audiences, NOW)

    return {
        "client-assertion": client_assertion,
        "jwks": lambda data: parse_jwks(_splice(jwks_seed, data)),
    }


BOUNDARY = "fuzzb0undary"
MULTIPART = (
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="metadata"\r\n\r\n'
    '{"recipients": ["123456789"], "label": "Relev\u00e9"}\r\n'
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="file"; filename="doc.pdf"\r\n'
    "Content-Type: application/pdf\r\n\r\n"
    "%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n\r\n"
    f"--{BOUNDARY}--\r\n"
).encode()


def _multipart() -> Callable[[bytes], object]:
    loop = asyncio.new_event_loop()
    for name in ("python_multipart", "multipart"):  # its warnings about each bad byte
        logging.getLogger(name).setLevel(logging.ERROR)

    def multipart(data: bytes) -> object:
        """``data[0]``: bit 1 set, the Content-Type is the line before the first CRLF of
        ``data[2:]``; ``data[1]`` where the body is cut in two chunks; the body is
        ``data[2:]`` spliced into a real publication (:func:`_splice`)."""
        if len(data) < 2:
            return None
        body = data[2:]
        content_type = f"multipart/form-data; boundary={BOUNDARY}".encode()
        if data[0] & 2:
            content_type, _, body = body.partition(b"\r\n")
        body = _splice(MULTIPART, body) if body else body
        cut = data[1] * len(body) // 255
        chunks = [body[:cut], body[cut:]]

        async def receive() -> dict[str, object]:
            chunk = chunks.pop(0) if chunks else b""
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/documents",
            "query_string": b"",
            "headers": [(b"content-type", content_type)],
        }
        return loop.run_until_complete(read_publication(Request(scope, receive), 4096))

    return multipart


def main() -> None:
    targets = {
        **_certificates(),
        **_webauthn(),
        **_others(),
        **_cards(),
        "cap-code": _cap_code(),
        **_clients(),
        "multipart": _multipart(),
    }
    if len(sys.argv) < 2 or sys.argv[1] not in targets:
        sys.exit(f"usage: parsers.py {{{','.join(sorted(targets))}}} [libFuzzer options]")
    target = targets[sys.argv[1]]

    def one(data: bytes) -> None:
        with contextlib.suppress(SecureboxError):
            target(data)

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
