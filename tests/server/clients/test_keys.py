"""A client's JWKS and certificate: only public EC P-256, Ed25519 and RSA >= 2048 keys."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import ECKey, OKPKey

from securebox_auth.errors import MalformedInput
from securebox_server.clients.keys import parse_jwks, thumbprint, thumbprint_of_pem
from tests.server.clients.helpers import new_key, self_signed


def _public(key: Any, kid: str = "k") -> dict[str, Any]:
    return {**key.as_dict(private=False), "kid": kid}


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _small_rsa() -> dict[str, Any]:
    small = rsa.generate_private_key(65537, 1024)  # noqa: S505 - to be refused
    numbers = small.public_key().public_numbers()
    return {"kty": "RSA", "n": _b64(numbers.n), "e": _b64(numbers.e), "kid": "small"}


def test_supported_keys_are_kept_public() -> None:
    for alg in ("ES256", "EdDSA", "RS256"):
        _, jwks = new_key(alg, kid="k1")
        canonical, keys = parse_jwks(json.dumps(jwks))
        assert canonical == jwks
        assert len(keys.keys) == 1


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ({"keys": [ECKey.generate_key("P-256").as_dict(private=True)]}, "private"),
        ({"keys": [_public(ECKey.generate_key("P-384"))]}, "P-256"),
        ({"keys": [_public(OKPKey.generate_key("Ed448"))]}, "Ed25519"),
        ({"keys": [_small_rsa()]}, "2048"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "private"),
        ({"keys": []}, "1 to 8"),
        ({"keys": [_public(ECKey.generate_key("P-256"), "a")] * 9}, "1 to 8"),
        ({"keys": [_public(ECKey.generate_key("P-256"), "a")] * 2}, "distinct"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}, "cannot be read"),
        ({"nokeys": []}, "keys"),
        ("[1, 2]", "keys"),
        ("{", "JSON"),
    ],
)
def test_other_keys_are_refused(document: Any, why: str) -> None:
    with pytest.raises(MalformedInput, match=why):
        parse_jwks(document)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["keys", "kty", "crv", "x", "y", "n", "e",
                                                       "kid", "d"]), inner, max_size=4),
                    max_leaves=12))  # fmt: skip
def test_any_document_is_read_or_refused(document: object) -> None:
    with contextlib.suppress(MalformedInput):
        parse_jwks({"keys": [document]})


def test_the_thumbprint_is_x5t_s256() -> None:
    certificate, pem = self_signed("bank")
    value = thumbprint(certificate)
    assert thumbprint_of_pem(pem) == value
    assert len(value) == 43
    assert "=" not in value
    with pytest.raises(MalformedInput):
        thumbprint_of_pem(b"not a certificate")
