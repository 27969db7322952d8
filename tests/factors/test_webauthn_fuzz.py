"""Fuzzing WebAuthn registration and assertion: random JSON, random CBOR in the attestation
object and authenticator data, and valid responses with bytes flipped. Only typed errors
(:class:`~securebox_auth.errors.SecureboxError`) or a refused verdict may come out, on both
engines."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Literal

import pytest
from fido2 import cbor
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import SecureboxError
from securebox_auth.factors.webauthn import (
    RelyingParty,
    begin_authentication,
    begin_registration,
    finish_authentication,
    finish_registration,
)
from securebox_auth.factors.webauthn_fast import b64url_decode, b64url_encode
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.testing.authenticator import SoftAuthenticator
from tests.fuzzing import fuzz
from tests.support import NOW

pytestmark = pytest.mark.fuzz
P = Principal.parse("123456789", "01")
RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
AUTH = SoftAuthenticator()
REG_OPTIONS, REG_CEREMONY, OWNED = begin_registration(
    RP, P, None, now=NOW, user_name="u", display_name="d"
)
VALID_REGISTRATION = AUTH.create(REG_OPTIONS, attestation="packed")
_registered = finish_registration(RP, REG_CEREMONY, OWNED, P, VALID_REGISTRATION, now=NOW)
assert _registered.passkeys is not None
PASSKEYS = _registered.passkeys
AUTH_OPTIONS, AUTH_CEREMONY = begin_authentication(RP, P, PASSKEYS, now=NOW)
VALID_ASSERTION = AUTH.get(AUTH_OPTIONS)

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)
cbor_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.binary(max_size=20),
        st.text(max_size=10),
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.integers(-3, 5) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
b64_fields = st.one_of(
    st.binary(max_size=120).map(b64url_encode),
    cbor_values.map(lambda v: b64url_encode(cbor.encode(v))),
    st.text(max_size=20),
    json_values,
)


def _flip(data: bytes, position: int, value: int) -> bytes:
    if not data:
        return data
    i = position % len(data)
    return data[:i] + bytes([value]) + data[i + 1 :]


@st.composite
def mutated_response(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """``valid`` with one or two of its members replaced, removed, or (for base64url
    fields) a byte of the decoded value set, or the bytes cut short."""
    response: dict[str, Any] = json.loads(json.dumps(valid))
    for _ in range(draw(st.integers(1, 2))):
        inner = draw(st.booleans()) and isinstance(response.get("response"), dict)
        target: dict[str, Any] = response["response"] if inner else response
        if not target:
            break
        name = draw(st.sampled_from(sorted(target)))
        action = draw(st.sampled_from(["bytes", "cut", "replace", "remove"]))
        value = target[name]
        if action in ("bytes", "cut") and isinstance(value, str):
            with contextlib.suppress(SecureboxError):
                raw = b64url_decode(value)
                if action == "bytes":
                    raw = _flip(raw, draw(st.integers(0, 2000)), draw(st.integers(0, 255)))
                else:
                    raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
                target[name] = b64url_encode(raw)
                continue
        if action == "remove":
            del target[name]
        else:
            target[name] = draw(b64_fields)
    return response


def responses(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        mutated_response(valid),
        json_values,
        st.builds(
            lambda inner, top: {**top, "response": inner},
            st.dictionaries(
                st.sampled_from(
                    [
                        "clientDataJSON",
                        "attestationObject",
                        "authenticatorData",
                        "signature",
                        "userHandle",
                        "transports",
                    ]
                ),
                b64_fields,
            ),
            st.dictionaries(st.sampled_from(["id", "rawId", "type"]), b64_fields),
        ),
        st.binary(max_size=100),
        st.text(max_size=100),
        st.just("[" * 5000 + "]" * 5000),
    )


@fuzz(100)
@given(response=responses(VALID_REGISTRATION))
def test_registration_raises_only_typed_errors(response: Any) -> None:
    with contextlib.suppress(SecureboxError):
        finish_registration(RP, REG_CEREMONY, OWNED, P, response, now=NOW)


@fuzz(100)
@given(response=responses(VALID_ASSERTION), engine=st.sampled_from(["fast", "fido2"]))
def test_assertion_raises_only_typed_errors(
    response: Any, engine: Literal["fast", "fido2"]
) -> None:
    with contextlib.suppress(SecureboxError):
        finish_authentication(
            RP,
            AUTH_CEREMONY,
            PASSKEYS,
            LockoutState(),
            P,
            response,
            now=NOW,
            lockout_rules=LockoutRules(),
            engine=engine,
        )


def test_deeply_nested_json_is_malformed() -> None:
    deep = "[" * 5000 + "]" * 5000
    for call in (
        lambda: finish_registration(RP, REG_CEREMONY, OWNED, P, deep, now=NOW),
        lambda: finish_authentication(
            RP,
            AUTH_CEREMONY,
            PASSKEYS,
            LockoutState(),
            P,
            deep,
            now=NOW,
            lockout_rules=LockoutRules(),
        ),
    ):
        try:
            call()
        except SecureboxError:
            continue
        raise AssertionError("accepted")
