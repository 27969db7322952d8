"""Assertions verified by an independent library (PyJWT) against the published JWKS, and
the same JWKS from two app instances (two workers) on the same settings."""

from __future__ import annotations

from pathlib import Path

import jwt
from fastapi.testclient import TestClient

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_server.app import create_app
from securebox_server.settings import Settings
from securebox_server.wiring import write_master_key
from tests.server.api.helpers import bearer, login
from tests.server.conftest import AppMaker, open_user


def test_an_assertion_verifies_with_pyjwt_against_the_jwks(make_app: AppMaker) -> None:
    client, box, _clock = make_app()
    open_user(box)
    token = login(client)
    issued = client.post(
        "/api/v1/assertions", json={"audience": "documents"}, headers=bearer(token)
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    jwks = client.get(body["jwks_uri"])
    assert jwks.status_code == 200
    assert jwks.headers["content-type"].startswith("application/jwk-set+json")
    keys = jwt.PyJWKSet.from_dict(jwks.json())
    header = jwt.get_unverified_header(body["assertion"])
    assert header["typ"] == "sbx-assertion+jwt"
    key = next(k for k in keys.keys if k.key_id == header["kid"])
    claims = jwt.decode(
        body["assertion"],
        key,
        algorithms=["EdDSA", "ES256"],
        audience="documents",
        issuer="http://testserver",  # the server's issuer is its public origin
        options={"verify_exp": False, "verify_iat": False},  # the app's clock is fixed
    )
    assert claims["sub"] == "123456789:01"
    assert claims["acr"] == "urn:securebox:acr:simple"
    assert claims["amr"] == ["pwd"]
    other = jwt.PyJWK(
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    )
    try:
        jwt.decode(body["assertion"], other, algorithms=["EdDSA"], audience="documents")
    except jwt.InvalidSignatureError:
        pass
    else:
        raise AssertionError("a foreign key verified the assertion")


def test_two_workers_publish_and_sign_with_the_same_keys(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    key_file = tmp_path / "master.key"
    write_master_key(key_file)
    db = tmp_path / "server.db"
    db.write_bytes(migrated_sqlite.read_bytes())
    settings = Settings(
        database_url=f"sqlite:///{db}", master_key_file=key_file, public_url="http://testserver"
    )
    first = TestClient(create_app(settings, argon2=PROFILE_TESTING))
    second = TestClient(create_app(settings, argon2=PROFILE_TESTING))
    with first, second:
        one = first.get("/api/v1/.well-known/jwks.json").json()
        two = second.get("/api/v1/.well-known/jwks.json").json()
        assert one == two
        assert [k["kid"] for k in one["keys"]] == ["a-m1"]
        assert all("d" not in k for k in one["keys"])
        # a flow started on one worker goes on on the other (sealed ids, shared key)
        flow = first.post(
            "/api/v1/login/flows", json={"client_id": "123456789", "user_number": "01"}
        ).json()
        assert second.get(f"/api/v1/login/flows/{flow['id']}").status_code == 200
