"""Fuzzing the other public parsers: identifiers, amounts and payees, TOTP, OOB, recovery and
CAP code input, software card files, JWKS documents and assertions (JWT). Whatever the
input, only :class:`~securebox_auth.errors.SecureboxError` may come out."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.cards.cardfile import SoftCardState, demo_card, luhn_pan
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import SecureboxError
from securebox_auth.factors.cap import CapRequest, verify_cap
from securebox_auth.factors.oob import OobRules, verify_oob
from securebox_auth.factors.recovery import RecoveryCodeRules, normalise_recovery_code
from securebox_auth.factors.totp import verify_totp
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.linking import Money, normalise_payee
from securebox_auth.policy.session import open_session
from securebox_auth.tokens.assertions import TokenKeys, issue_assertion, verify_assertion
from tests.cards.capworld import make_world
from tests.fuzzing import fuzz
from tests.support import NOW, counting_hasher

pytestmark = pytest.mark.fuzz
P = Principal.parse("123456789", "01")
RULES = LockoutRules()
HASHER = counting_hasher(StaticKeyring.generate())[0]
KEYS = TokenKeys.generate("t1")
TOKEN = issue_assertion(
    open_session(P, "web", ["cap_identify"], NOW),
    keys=KEYS,
    issuer="https://auth.bank.example",
    audience="api",
    now=NOW,
)
CARD = demo_card("uk", master_key=bytes(16), pan=luhn_pan("999999"), psn="01", pin="1234")
WORLD = make_world()

anything = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789 -.:,٠١٢٣４５", max_size=20),
    st.binary(max_size=20),
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)


def _typed_only(call: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(SecureboxError):
        call(*args, **kwargs)


@fuzz(200)
@given(raw=anything, other=anything)
def test_identifiers(raw: Any, other: Any) -> None:
    _typed_only(ClientId.parse, raw)
    _typed_only(UserNumber.parse, raw)
    _typed_only(Siren.parse, raw)
    _typed_only(Principal.parse, raw, other)
    _typed_only(Principal.from_key, raw)


@fuzz(200)
@given(amount=anything, currency=anything, payee=anything)
def test_amounts_and_payees(amount: Any, currency: Any, payee: Any) -> None:
    _typed_only(Money.parse, amount, currency)
    _typed_only(normalise_payee, payee)


@fuzz(200)
@given(code=anything)
def test_one_time_code_input(code: Any) -> None:
    _typed_only(verify_totp, None, LockoutState(), P, code, now=NOW, lockout_rules=RULES)
    _typed_only(normalise_recovery_code, code, RecoveryCodeRules())
    _typed_only(
        verify_oob,
        None,
        LockoutState(),
        P,
        code,
        purpose="login",
        reference="r",
        now=NOW,
        hasher=HASHER,
        rules=OobRules(),
        lockout_rules=RULES,
    )
    _typed_only(
        verify_cap,
        WORLD.record,
        CapRequest.identify(),
        code,
        lockout=LockoutState(),
        now=NOW,
        issuer=WORLD.issuer,
        lockout_rules=RULES,
    )


@st.composite
def card_files(draw: st.DrawFn) -> Any:
    data: dict[str, Any] = json.loads(CARD.to_json())
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(data)))
        if draw(st.booleans()):
            del data[key]
        else:
            data[key] = draw(json_values)
    return json.dumps(data)


@fuzz(60)
@given(
    text=st.one_of(
        card_files(),
        json_values.map(json.dumps),
        st.text(),
        st.binary(),
        st.just("[" * 100_000),
        st.just([1]),
    )
)
def test_card_files(text: Any) -> None:
    _typed_only(SoftCardState.from_json, text)


@st.composite
def tokens(draw: st.DrawFn) -> Any:
    parts = TOKEN.split(".")
    i = draw(st.integers(0, 2))
    action = draw(st.sampled_from(["json", "text", "char", "drop", "deep"]))
    if action == "json":
        raw = json.dumps(draw(json_values)).encode()
        parts[i] = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    elif action == "deep":
        parts[i] = base64.urlsafe_b64encode(b"[" * 50_000).rstrip(b"=").decode()
    elif action == "text":
        parts[i] = draw(st.text(max_size=30))
    elif action == "char" and parts[i]:
        j = draw(st.integers(0, len(parts[i]) - 1))
        parts[i] = parts[i][:j] + draw(st.characters()) + parts[i][j + 1 :]
    else:
        del parts[i]
    return ".".join(parts)


@fuzz(200)
@given(token=st.one_of(tokens(), anything))
def test_assertions(token: Any) -> None:
    _typed_only(
        verify_assertion,
        token,
        keys=KEYS,
        audience="api",
        issuer="https://auth.bank.example",
        now=NOW,
    )


@fuzz(50)
@given(
    document=st.one_of(
        json_values,
        st.builds(lambda keys: {"keys": keys}, st.lists(json_values, max_size=2)),
        st.builds(
            lambda key, value: {"keys": [{**KEYS.jwks()["keys"][0], key: value}]},
            st.sampled_from(["kty", "crv", "x", "y", "kid", "alg", "use", "d"]),
            json_values,
        ),
    )
)
def test_jwks_documents(document: Any) -> None:
    _typed_only(TokenKeys.from_jwks, document)
