"""The pure claim checks of RFC 7523 section 3 (after the signature verified): any JSON
claims give a verified assertion or ``invalid_client``, never another exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import OKPKey

from securebox_server.clients.assertion import (
    LEEWAY,
    MAX_LIFETIME,
    REGISTRY,
    check_claims,
    verify_client_assertion,
)
from securebox_server.clients.keys import parse_jwks
from securebox_server.clients.model import ApiClient, ClientKind, ClientStatus, OAuthError

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
AUD = frozenset({"https://box.example/api/v1/oauth/token", "https://box.example"})
T = int(NOW.timestamp())
GOOD: dict[str, Any] = {
    "iss": "snd_a",
    "sub": "snd_a",
    "aud": "https://box.example/api/v1/oauth/token",
    "exp": T + 60,
    "iat": T,
    "jti": "j1",
}


def test_a_good_assertion() -> None:
    verified = check_claims(GOOD, "snd_a", AUD, NOW)
    assert verified.jti == "j1"
    assert verified.expires_at == NOW + timedelta(seconds=60) + LEEWAY


@pytest.mark.parametrize(
    "change",
    [
        {"iss": "snd_b"},
        {"sub": "snd_b"},
        {"aud": "https://box.example/other"},
        {"aud": ["https://elsewhere"]},
        {"aud": {"https://box.example": 1}},
        {"exp": T - 31},
        {"exp": T + int((MAX_LIFETIME + LEEWAY).total_seconds()) + 1},
        {"exp": True},
        {"exp": float("nan")},
        {"exp": 10**30},
        {"nbf": T + 31},
        {"iat": T + 31},
        {"iat": T - 331},
        {"jti": 5},
        {"jti": "x" * 129},
    ],
)
def test_each_claim_is_checked(change: dict[str, Any]) -> None:
    with pytest.raises(OAuthError) as refused:
        check_claims({**GOOD, **change}, "snd_a", AUD, NOW)
    assert refused.value.error == "invalid_client"
    assert refused.value.status == 401


def test_the_leeway_edges() -> None:
    assert check_claims({**GOOD, "exp": T - 29}, "snd_a", AUD, NOW)
    assert check_claims({**GOOD, "iat": T + 30, "nbf": T + 30}, "snd_a", AUD, NOW)
    assert check_claims({**GOOD, "exp": T + 330, "iat": None}, "snd_a", AUD, NOW)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from([*sorted(GOOD), "nbf"]), JSON))
def test_any_claims_are_decided(changes: dict[str, Any]) -> None:
    try:
        check_claims({**GOOD, **changes}, "snd_a", AUD, NOW)
    except OAuthError as exc:
        error = exc.error
    else:
        error = "invalid_client"
    assert error == "invalid_client"


@pytest.mark.parametrize("payload", [b"0", b"null", b"true", b'"snd_a"', b"1.5"])
def test_signed_claims_that_are_not_an_object(payload: bytes) -> None:
    """A validly signed assertion whose claims are JSON but not an object: ``invalid_client``
    (a ``TypeError`` before; found by ``python3 fuzz/parsers.py client-assertion``)."""
    key = OKPKey.generate_key("Ed25519")
    jwks, _ = parse_jwks({"keys": [{**key.as_dict(private=False), "kid": "k1"}]})
    client = ApiClient(
        "snd_a", ClientKind.SENDER, "S", frozenset(), ClientStatus.ACTIVE, NOW, jwks=jwks
    )
    signed = jws.serialize_compact(
        {"alg": "EdDSA", "kid": "k1"}, payload, key, algorithms=["EdDSA"], registry=REGISTRY
    )
    with pytest.raises(OAuthError) as refused:
        verify_client_assertion(signed, client, "snd_a", AUD, NOW)
    assert refused.value.error == "invalid_client"
    # our check's words, or the generic refusal where joserfc (1.8 and newer) refuses the
    # claims itself while decoding
    assert refused.value.description in {
        "the claims are not a JSON object",
        "client authentication failed",
    }
