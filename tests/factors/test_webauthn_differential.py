"""Differential test: the fast path (:mod:`securebox_auth.factors.webauthn_fast`) and
python-fido2's own ``authenticate_complete`` give the same verdict on any assertion.

A valid assertion is taken apart and every field may be mutated: ``clientDataJSON``
(type, challenge, origin, crossOrigin, topOrigin, extra members, its encoding),
``authenticatorData`` (rpIdHash, every flag, the counter, trailing bytes, attested data and
extensions), the signature, the credential id, the user handle and the outer JSON members.
The mutated data is signed again by the authenticator (most of the time), so the checks
behind the signature are reached. Both engines must accept, or both refuse; a refusal is a
REJECTED verdict or a typed :class:`~securebox_auth.errors.SecureboxError` (the reason may
differ). Any other exception fails the test.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any, Literal

import pytest
from fido2 import cbor
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import SecureboxError
from securebox_auth.factors.webauthn import (
    Ceremony,
    PasskeySet,
    RelyingParty,
    begin_authentication,
    begin_registration,
    finish_authentication,
    finish_registration,
)
from securebox_auth.factors.webauthn_fast import b64url_encode
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.testing.authenticator import AAGUID, SoftAuthenticator
from tests.fuzzing import fuzz
from tests.support import NOW

pytestmark = pytest.mark.fuzz
P = Principal.parse("123456789", "01")
ORIGIN = "https://bank.example"
TOP = "https://aggregator.example"
RPS = {
    "plain": RelyingParty(id="bank.example", name="Bank", origins=frozenset({ORIGIN})),
    "embedded": RelyingParty(
        id="bank.example", name="Bank", origins=frozenset({ORIGIN}), top_origins=frozenset({TOP})
    ),
}
AUTH = SoftAuthenticator()


def _enrol() -> PasskeySet:
    rp = RPS["plain"]
    options, ceremony, owned = begin_registration(
        rp, P, None, now=NOW, user_name="u", display_name="d"
    )
    verdict = finish_registration(rp, ceremony, owned, P, AUTH.create(options), now=NOW)
    assert verdict.passkeys is not None
    return verdict.passkeys


PASSKEYS = _enrol()
_CEREMONIES: dict[bool, tuple[Ceremony, str]] = {}


def _ceremony(require_uv: bool) -> tuple[Ceremony, str]:
    if require_uv not in _CEREMONIES:
        options, ceremony = begin_authentication(
            RPS["plain"], P, PASSKEYS, now=NOW, require_uv=require_uv
        )
        _CEREMONIES[require_uv] = (ceremony, options["publicKey"]["challenge"])
    return _CEREMONIES[require_uv]


def _often(valid: Any, *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The valid value most of the time, else one of ``others``."""
    return st.one_of(st.just(valid), st.just(valid), st.just(valid), *others)


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
ABSENT = object()


def _member(valid: Any, *alternatives: Any) -> st.SearchStrategy[Any]:
    return _often(valid, st.sampled_from([ABSENT, *alternatives]), json_values)


def _challenges(good: str) -> st.SearchStrategy[Any]:
    raw = good.encode()
    standard = good.replace("-", "+").replace("_", "/")
    return _member(
        good,
        good + "=",
        standard,
        good[:-1],
        good + "A",
        " " + good,
        good[:10] + "." + good[10:],
        good.upper(),
        b64url_encode(hashlib.sha256(raw).digest()),
    )


@st.composite
def client_data_json(draw: st.DrawFn, challenge: str) -> bytes:
    body: dict[str, Any] = {}
    members = {
        "type": _member("webauthn.get", "webauthn.create", "WEBAUTHN.GET", ""),
        "challenge": _challenges(challenge),
        "origin": _member(
            ORIGIN, ORIGIN + "/", "https://www.bank.example", "http://bank.example", TOP
        ),
        "crossOrigin": _often(False, st.sampled_from([ABSENT, True, None, 0, 1, "false"])),
        "topOrigin": _often(ABSENT, st.sampled_from([TOP, ORIGIN, "https://evil.example"])),
    }
    order = draw(st.permutations(list(members)))
    for name in order:
        value = draw(members[name])
        if value is not ABSENT:
            body[name] = value
    body.update(draw(_often({}, st.dictionaries(st.text(max_size=8), json_values, max_size=3))))
    if draw(st.booleans()) and draw(st.booleans()):
        # encoding variants of the same object
        variant = draw(st.sampled_from(["spaces", "unicode", "bom", "utf16", "trailing", "dup"]))
        text = json.dumps(body, ensure_ascii=variant != "unicode")
        if variant == "bom":
            return b"\xef\xbb\xbf" + text.encode()
        if variant == "utf16":
            return text.encode("utf-16")
        if variant == "trailing":
            return text.encode() + draw(st.sampled_from([b" ", b"\n", b"x", b"{}", b"\x00"]))
        if variant == "dup" and body:
            key = draw(st.sampled_from(sorted(body)))
            return (text[:-1] + ", " + json.dumps(key) + ": " + json.dumps("x") + "}").encode()
        return text.encode()
    return json.dumps(body, separators=(",", ":")).encode()


def _attested() -> bytes:
    credential = AUTH.credential_id
    return AAGUID + struct.pack(">H", len(credential)) + credential + cbor.encode(AUTH.cose())


@st.composite
def authenticator_data(draw: st.DrawFn) -> bytes:
    rp_hash = draw(
        _often(
            hashlib.sha256(b"bank.example").digest(),
            st.sampled_from(
                [hashlib.sha256(b"evil.example").digest(), bytes(32), hashlib.sha256(b"").digest()]
            ),
            st.binary(min_size=32, max_size=32),
        )
    )
    flags = draw(_often(0x0D, st.integers(0, 255), st.sampled_from([0x01, 0x04, 0x1D, 0x15, 0x0D])))
    counter = draw(_often(1, st.integers(0, 2**32 - 1)))
    tail = draw(
        _often(
            b"",
            st.binary(max_size=24),
            st.just(cbor.encode({"credProtect": 1})),
            st.just(_attested()),
            st.just(_attested() + cbor.encode({"x": 1})),
            st.just(b"\xa1"),
        )
    )
    header: bytes = rp_hash + struct.pack(">BI", flags, counter)
    if draw(st.booleans()) and draw(st.booleans()):  # cut the data short
        return header[: draw(st.integers(0, 36))]
    return header + bytes(tail)


@st.composite
def assertions(draw: st.DrawFn, challenge: str) -> dict[str, Any]:
    client = draw(client_data_json(challenge))
    auth = draw(authenticator_data())
    signed = AUTH.sign(auth + hashlib.sha256(client).digest())
    signature = draw(
        _often(
            signed,
            st.binary(max_size=80),
            st.just(signed[:-1] + bytes([signed[-1] ^ 1])),
            st.just(signed + b"\x00"),
        )
    )
    credential = draw(
        _often(AUTH.credential_id, st.binary(max_size=40), st.just(AUTH.credential_id + b"\x00"))
    )
    handle: Any = draw(
        st.one_of(
            st.just(None),
            st.just(b64url_encode(PASSKEYS.user_handle)),
            st.just(b64url_encode(bytes(32))),
            st.just(""),
            st.just("%%%"),
            json_scalars,
        )
    )
    raw_id = b64url_encode(credential)
    response: dict[str, Any] = {
        "id": draw(_member(raw_id, raw_id + "A", raw_id.upper())),
        "rawId": raw_id,
        "type": draw(_member("public-key", "public_key", "")),
        "authenticatorAttachment": draw(_member("platform", "cross-platform", "carrier")),
        "clientExtensionResults": draw(_member({}, {"credProps": {"rk": True}})),
        "response": {
            "clientDataJSON": b64url_encode(client),
            "authenticatorData": b64url_encode(auth),
            "signature": b64url_encode(signature),
            "userHandle": handle,
        },
    }
    for key in ("id", "type", "authenticatorAttachment", "clientExtensionResults"):
        if response[key] is ABSENT:
            del response[key]
    return response


def _verdict(engine: Literal["fast", "fido2"], rp: str, uv: bool, response: Any) -> bool:
    ceremony, _ = _ceremony(uv)
    try:
        verdict = finish_authentication(
            RPS[rp],
            ceremony,
            PASSKEYS,
            LockoutState(),
            P,
            response,
            now=NOW,
            lockout_rules=LockoutRules(),
            engine=engine,
        )
    except SecureboxError:
        return False
    return verdict.ok


@fuzz(120)
@given(data=st.data(), rp=st.sampled_from(sorted(RPS)), uv=st.booleans())
def test_fast_path_and_fido2_give_the_same_verdict(data: st.DataObject, rp: str, uv: bool) -> None:
    _, challenge = _ceremony(uv)
    response = data.draw(assertions(challenge))
    fast = _verdict("fast", rp, uv, response)
    fido2 = _verdict("fido2", rp, uv, response)
    assert fast == fido2, (fast, fido2)


def test_the_unmutated_assertion_is_accepted_by_both() -> None:
    for uv in (True, False):
        _, challenge = _ceremony(uv)
        client = json.dumps(
            {"type": "webauthn.get", "challenge": challenge, "origin": ORIGIN}
        ).encode()
        auth = hashlib.sha256(b"bank.example").digest() + struct.pack(">BI", 0x0D, 1)
        response = {
            "id": b64url_encode(AUTH.credential_id),
            "rawId": b64url_encode(AUTH.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url_encode(client),
                "authenticatorData": b64url_encode(auth),
                "signature": b64url_encode(AUTH.sign(auth + hashlib.sha256(client).digest())),
            },
        }
        assert _verdict("fast", "plain", uv, response)
        assert _verdict("fido2", "plain", uv, response)
