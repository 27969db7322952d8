"""stores/totp_codec.py: a TOTP seed is stored wrapped, bound to its principal, item and key.

The seed never appears in the document in any encoding; a wrapped seed copied to another
principal's or item's row does not open; a key id the keyring lacks is a typed error; the
legacy clear format is read and flagged for re-wrapping; rotation re-wraps under the new key.
"""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import MalformedInput, SealedSecretInvalid, UnknownKey
from securebox_auth.factors.totp import TotpCredential
from securebox_auth.identity import Principal
from securebox_auth.stores import totp_codec as tc

ALICE = Principal.parse("123456789", "01")
BOB = Principal.parse("123456789", "02")
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
W1 = StaticKeyring.generate("w1")


def _credential(seed: bytes) -> TotpCredential:
    text = base64.b32encode(seed).decode().rstrip("=")
    return TotpCredential(text, NOW, confirmed_at=NOW, last_step=7)


def _wrapped(seed: bytes = bytes(range(20)), keys: StaticKeyring = W1) -> dict[str, object]:
    return tc.totp_to_dict(_credential(seed), keys=keys, principal=ALICE, item="default")


@given(st.binary(min_size=20, max_size=64))
def test_the_seed_is_in_no_encoding_in_the_document(seed: bytes) -> None:
    document = json.dumps(_wrapped(seed)).encode()
    b32 = base64.b32encode(seed)
    forms = {seed, seed.hex().encode(), seed.hex().upper().encode(), b32, b32.rstrip(b"=")}
    forms |= {base64.b64encode(seed).rstrip(b"="), base64.urlsafe_b64encode(seed).rstrip(b"=")}
    assert not [f for f in forms if f in document]
    assert b'"secret"' not in document
    back = tc.totp_from_dict(_wrapped(seed), keys=W1, principal=ALICE, item="default")
    assert back == _credential(seed)


def test_a_seed_copied_to_another_principal_or_item_does_not_open() -> None:
    document = _wrapped()
    with pytest.raises(SealedSecretInvalid):
        tc.totp_from_dict(document, keys=W1, principal=BOB, item="default")
    with pytest.raises(SealedSecretInvalid):
        tc.totp_from_dict(document, keys=W1, principal=ALICE, item="phone-2")


def test_a_seed_under_another_key_or_altered_does_not_open() -> None:
    document = _wrapped()
    other = StaticKeyring.generate("w1")  # same id, other bytes
    with pytest.raises(SealedSecretInvalid):
        tc.totp_from_dict(document, keys=other, principal=ALICE, item="default")
    seed = dict(document["seed"])  # type: ignore[call-overload]
    sealed = bytearray(base64.urlsafe_b64decode(seed["sealed"]))
    sealed[-1] ^= 1
    altered = {**document, "seed": {**seed, "sealed": base64.urlsafe_b64encode(sealed).decode()}}
    with pytest.raises(SealedSecretInvalid):
        tc.totp_from_dict(altered, keys=W1, principal=ALICE, item="default")
    relabelled = {**document, "seed": {**seed, "kid": "w2"}}
    w2 = StaticKeyring({"w2": W1.keys["w1"]}, "w2")  # the key id is in the associated data
    with pytest.raises(SealedSecretInvalid):
        tc.totp_from_dict(relabelled, keys=w2, principal=ALICE, item="default")


def test_an_unknown_key_id_is_a_typed_error() -> None:
    with pytest.raises(UnknownKey) as raised:
        tc.totp_from_dict(
            _wrapped(), keys=StaticKeyring.generate("w9"), principal=ALICE, item="default"
        )
    assert raised.value.code == "unknown_key"


def test_rotation_reads_the_old_key_and_asks_for_a_rewrap() -> None:
    document = _wrapped()
    rotated = StaticKeyring({"w2": StaticKeyring.generate().keys["k1"], "w1": W1.keys["w1"]}, "w2")
    assert not tc.totp_needs_rewrap(document, W1)
    assert tc.totp_needs_rewrap(document, rotated)
    credential = tc.totp_from_dict(document, keys=rotated, principal=ALICE, item="default")
    again = tc.totp_to_dict(credential, keys=rotated, principal=ALICE, item="default")
    assert again["seed"]["kid"] == "w2"
    assert not tc.totp_needs_rewrap(again, rotated)


def test_the_legacy_clear_format_is_read_and_flagged() -> None:
    credential = _credential(bytes(range(20)))
    legacy = {
        "v": 1, "secret": credential.secret, "created_at": NOW.isoformat(), "algorithm": "SHA1",
        "digits": 6, "period": 30, "confirmed_at": NOW.isoformat(), "last_step": 7,
    }  # fmt: skip
    assert tc.totp_from_dict(legacy, keys=W1, principal=ALICE, item="default") == credential
    assert tc.totp_needs_rewrap(legacy, W1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = ["v", "seed", "created_at", "algorithm", "digits", "period", "confirmed_at", "last_step"]


@given(
    st.dictionaries(st.sampled_from(_FIELDS), json_values),
    st.dictionaries(st.sampled_from(["alg", "kid", "sealed"]), json_values),
    st.sets(st.sampled_from(_FIELDS)),
)
def test_altered_documents_raise_only_typed_errors(
    changes: dict[str, object], seed_changes: dict[str, object], dropped: set[str]
) -> None:
    """A stored document changed in any field, or missing any, reads back or raises one of
    the project's errors (never KeyError, TypeError, binascii.Error...)."""
    document = {**_wrapped(), **changes}
    seed = document.get("seed")
    if isinstance(seed, dict):
        document["seed"] = {**seed, **seed_changes}
    for name in dropped:
        document.pop(name, None)
    with contextlib.suppress(MalformedInput, UnknownKey):
        tc.totp_from_dict(document, keys=W1, principal=ALICE, item="default")


def test_a_short_sealed_value_is_malformed() -> None:
    with pytest.raises(MalformedInput):
        W1.unwrap("w1", b"short", b"")
