"""``POST /api/v1/oauth/token`` with ``private_key_jwt``: every algorithm with real keys, and
every RFC 7523 section 3 rejection, answered as RFC 6749 section 5.2 JSON (never a 500)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

from securebox_server.clients.assertion import REGISTRY
from securebox_server.clients.endpoint import JWT_BEARER
from securebox_server.clients.service import TOKEN_PATH
from tests.server.clients.helpers import (
    Registered,
    assertion,
    clients_of,
    get_token,
    new_key,
    register_sender,
    token_response,
)
from tests.server.conftest import AppMaker

URL = "http://testserver" + TOKEN_PATH
GENERIC = {"error": "invalid_client", "error_description": "client authentication failed"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _post(client: TestClient, signed: str, **extra: str) -> Any:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": signed,
        **extra,
    }
    return client.post(TOKEN_PATH, data=form)


def _refused(answer: Any, description: str | None = None) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client"
    if description is not None:
        assert description in answer.json()["error_description"]
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "Ed25519", "PS256", "RS256"])
def test_each_algorithm_gets_a_token(make_app: AppMaker, alg: str) -> None:
    client, _, _ = make_app()
    sender = register_sender(client, alg=alg)
    answer = token_response(client, sender)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "documents:publish documents:status"
    assert body["access_token"].startswith("sbx_at_")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"


def test_the_audience_may_be_the_endpoint_or_the_issuer(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    sender = register_sender(client)
    for audience in (URL, "http://testserver", ["https://elsewhere", URL]):
        assert token_response(client, sender, audience=audience).status_code == 200
    for audience in ("https://elsewhere/api/v1/oauth/token", "http://testserver/other", []):
        _refused(token_response(client, sender, audience=audience), "aud")


def test_time_claims(make_app: AppMaker) -> None:
    client, _, clock = make_app()
    sender = register_sender(client)
    now = clock.now()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"exp": None}, "exp is required"),
        ({"now": now - timedelta(minutes=2), "lifetime": 60}, "expired"),
        ({"lifetime": 600}, "five minutes"),
        ({"iat": int((now + timedelta(minutes=2)).timestamp())}, "not valid yet"),
        ({"nbf": int((now + timedelta(minutes=2)).timestamp())}, "not valid yet"),
        ({"iat": int((now - timedelta(minutes=20)).timestamp())}, "iat is too old"),
        ({"exp": "soon"}, "NumericDate"),
    ]
    for claims, why in cases:
        _refused(token_response(client, sender, **claims), why)
    # within the leeway: a clock 20 s behind the client's is fine
    skewed = now + timedelta(seconds=20)
    assert token_response(client, sender, now=skewed, lifetime=60).status_code == 200


def test_iss_and_sub_are_the_client(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    sender = register_sender(client)
    other = register_sender(client, "insurer")
    _refused(token_response(client, sender, iss=other.client_id), "iss and sub")
    _refused(token_response(client, sender, iss=None), "iss and sub")
    # sub names another client: its keys do not verify the signature
    assert token_response(client, sender, sub=other.client_id).json() == GENERIC
    # a client_id parameter must agree with the assertion
    signed = assertion(sender, now=clock_of(client))
    assert _post(client, signed, client_id=other.client_id).json() == GENERIC


def clock_of(client: TestClient) -> Any:
    return clients_of(client).clock.now()


def test_jti_is_required_and_single_use(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    sender = register_sender(client)
    _refused(token_response(client, sender, jti=""), "jti")
    _refused(token_response(client, sender, without=("jti",)), "jti")
    signed = assertion(sender, now=clock_of(client))
    assert _post(client, signed).status_code == 200
    _refused(_post(client, signed), "already used")
    long = assertion(sender, now=clock_of(client), jti="j" * 129)
    _refused(_post(client, long), "jti")


def test_alg_none_is_refused(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    sender = register_sender(client)
    now = int(clock_of(client).timestamp())
    claims = {"iss": sender.client_id, "sub": sender.client_id, "aud": URL, "exp": now + 60,
              "jti": "n1"}  # fmt: skip
    for alg in ("none", "None", "NONE"):
        header = _b64(json.dumps({"alg": alg}).encode())
        unsigned = f"{header}.{_b64(json.dumps(claims).encode())}."
        assert _post(client, unsigned).json() == GENERIC


def test_hs256_with_the_public_key_as_secret_is_refused(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    for alg in ("ES256", "RS256"):
        sender = register_sender(client, alg=alg)
        now = int(clock_of(client).timestamp())
        claims = {"iss": sender.client_id, "sub": sender.client_id, "aud": URL,
                  "exp": now + 60, "jti": f"h-{alg}"}  # fmt: skip
        public = json.dumps(sender.client.jwks).encode()
        pem = sender.key.as_pem(private=False)
        for secret in (public, pem, json.dumps(sender.client.jwks["keys"][0]).encode()):  # type: ignore[index]
            for hs in ("HS256", "HS512"):
                head = _b64(json.dumps({"alg": hs, "kid": sender.kid}).encode())
                body = _b64(json.dumps(claims).encode())
                mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
                assert _post(client, f"{head}.{body}.{_b64(mac)}").json() == GENERIC


def test_an_unknown_client_reads_like_a_bad_signature(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    sender = register_sender(client)
    stranger_key, _ = new_key("ES256")
    forged = Registered(sender.client, stranger_key, "ES256", sender.kid)
    bad_signature = token_response(client, forged)
    ghost = Registered(
        sender.client.__class__(**{**_fields(sender.client), "client_id": "snd_nobody"}),
        sender.key,
        "ES256",
        sender.kid,
    )
    unknown = token_response(client, ghost)
    assert bad_signature.status_code == unknown.status_code == 401
    assert bad_signature.json() == unknown.json() == GENERIC
    varying = {"x-request-id", "date"}
    assert {k: v for k, v in bad_signature.headers.items() if k not in varying} == {
        k: v for k, v in unknown.headers.items() if k not in varying
    }
    # a revoked client answers the same
    clients_of(client).revoke(sender.client_id)
    assert token_response(client, sender).json() == GENERIC


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


def test_a_key_of_another_type_than_alg_is_not_used(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    sender = register_sender(client, alg="ES256")
    rsa, _ = new_key("RS256")
    # the header says RS256 and the kid of the EC key: no RSA key is registered
    assert token_response(client, sender, alg="RS256", key=rsa).json() == GENERIC
    # an unknown kid
    assert token_response(client, sender, header={"kid": "other"}).json() == GENERIC


def test_request_errors(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    sender = register_sender(client)
    signed = assertion(sender, now=clock_of(client))

    def error(answer: Any) -> tuple[int, str]:
        assert answer.headers["cache-control"] == "no-store"
        return answer.status_code, answer.json()["error"]

    assert error(client.post(TOKEN_PATH, data={})) == (400, "invalid_request")
    form = {"grant_type": "password", "client_assertion_type": JWT_BEARER,
            "client_assertion": signed}  # fmt: skip
    assert error(client.post(TOKEN_PATH, data=form)) == (400, "unsupported_grant_type")
    assert error(client.post(TOKEN_PATH, json={**form, "grant_type": "client_credentials"})) == (
        400,
        "invalid_request",
    )
    body = f"grant_type=client_credentials&grant_type=client_credentials&client_assertion={signed}"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert error(client.post(TOKEN_PATH, content=body, headers=headers)) == (400, "invalid_request")
    wrong_type = {**form, "grant_type": "client_credentials", "client_assertion_type": "jwt"}
    assert error(client.post(TOKEN_PATH, data=wrong_type)) == (400, "invalid_request")
    # no client authentication at all
    assert error(client.post(TOKEN_PATH, data={"grant_type": "client_credentials"})) == (
        401,
        "invalid_client",
    )
    nobody = {"grant_type": "client_credentials", "client_id": sender.client_id}
    assert error(client.post(TOKEN_PATH, data=nobody)) == (401, "invalid_client")


def test_scopes_are_the_intersection(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    sender = register_sender(client)
    answer = token_response(client, sender, scope="documents:status documents:read")
    assert answer.json()["scope"] == "documents:status"
    answer = token_response(client, sender, scope="documents:read events:read")
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_scope")
    assert get_token(client, sender, scope="documents:publish")


def test_the_endpoint_is_rate_limited_per_claimed_client(make_app: AppMaker) -> None:
    client, _, _ = make_app(
        rate_limits_enabled=True, rate_limits=(("oauth.token.account", "2/minute"),)
    )
    sender = register_sender(client)
    assert token_response(client, sender).status_code == 200
    assert token_response(client, sender).status_code == 200
    answer = token_response(client, sender)
    assert answer.status_code == 429
    assert "retry-after" in answer.headers
    # another client is not affected
    assert token_response(client, register_sender(client, "insurer")).status_code == 200


_GARBAGE = st.one_of(
    st.text(max_size=300),
    st.lists(st.text(alphabet='ABCabc012-_=.{}"', max_size=40), min_size=3, max_size=3).map(
        ".".join
    ),
    st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "jwk", "b64"]),
        st.one_of(st.text(max_size=5), st.sampled_from(["ES256", "EdDSA", "RS256", "none"])),
    ).map(lambda h: _b64(json.dumps(h).encode()) + ".e30.c2ln"),
)


def test_no_assertion_makes_a_500(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    sender = register_sender(client)

    @settings(max_examples=80, deadline=None)
    @given(garbage=_GARBAGE, client_id=st.sampled_from([None, "", sender.client_id, "x" * 80]))
    def post(garbage: str, client_id: str | None) -> None:
        extra = {} if client_id is None else {"client_id": client_id}
        answer = _post(client, garbage, **extra)
        assert answer.status_code in (400, 401), answer.text
        assert "error" in answer.json()

    post()


def test_a_body_that_is_not_a_form(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    form = {"content-type": "application/x-www-form-urlencoded"}
    for headers, body in (
        ({"content-type": "multipart/form-data; boundary=x"}, b"--x\r\n"),
        ({**form, "content-length": "99999"}, b"grant_type=client_credentials"),
        (form, b"a" * 20000),
    ):
        answer = client.post(TOKEN_PATH, content=body, headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_request"


def test_keys_made_with_cryptography_as_pem(make_app: AppMaker) -> None:
    """An integrator's keys: made by ``cryptography``, kept as PEM, published as a JWKS."""
    client, _, _ = make_app()
    made: list[tuple[str, Any, type[ECKey | OKPKey | RSAKey]]] = [
        ("ES256", ec.generate_private_key(ec.SECP256R1()), ECKey),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate(), OKPKey),
        ("PS256", rsa.generate_private_key(65537, 3072), RSAKey),
    ]
    for alg, private, kind in made:
        pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        key = kind.import_key(pem)
        public = {**key.as_dict(private=False), "kid": f"pem-{alg}"}
        sender = clients_of(client).add_sender("bank", "Back office", jwks={"keys": [public]})
        registered = Registered(sender, key, alg, f"pem-{alg}")
        assert token_response(client, registered).status_code == 200, alg


@pytest.mark.parametrize("payload", [b"0", b"[]", b'"snd"', b"null", b"true"])
def test_signed_claims_that_are_not_an_object(make_app: AppMaker, payload: bytes) -> None:
    """A validly signed assertion whose payload is JSON but not an object: the endpoint
    refuses it before verifying (no ``sub`` to find the client by); the verifier itself
    does too (``test_assertion.py``)."""
    client, _, _ = make_app()
    sender = register_sender(client, alg="EdDSA")
    signed = jws.serialize_compact(
        {"alg": "EdDSA", "kid": sender.kid}, payload, sender.key, algorithms=["EdDSA"],
        registry=REGISTRY,
    )  # fmt: skip
    _refused(_post(client, signed, client_id=sender.client_id))
