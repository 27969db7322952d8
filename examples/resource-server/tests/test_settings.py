"""The same API in this process (Starlette's TestClient) with other settings, against the
real reference server's keys and assertions: a misconfigured issuer, a login older than
the endpoint accepts, an unreachable issuer, and the JWKS cache's refetch rules."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from securebox_auth.clock import FixedClock
from securebox_auth.shell.sql import open_sql_store

from payments_rs.app import create_app
from payments_rs.jwks import JwksCache, JwksUnavailable
from payments_rs.reference import PortalClient, ReferenceServer, free_port
from payments_rs.settings import Settings, write_audit_key


def _settings(tmp_path: Path, reference: ReferenceServer, **changes: object) -> Settings:
    key = tmp_path / "audit.key"
    write_audit_key(key)
    url = f"sqlite:///{tmp_path / 'payments.db'}"
    open_sql_store(url, audit_key=bytes.fromhex(key.read_text()), migrate=True).engine.dispose()
    fields: dict[str, object] = {
        "issuer": reference.issuer,
        "jwks_url": f"{reference.base}/api/v1/.well-known/jwks.json",
        "database_url": url,
        "audit_key_file": key,
        **changes,
    }
    return Settings(**fields)  # type: ignore[arg-type]


def _read(client: TestClient, assertion: str) -> httpx.Response:
    answer: httpx.Response = client.get(
        "/statements",
        params={"client_id": "123456789", "user_number": "01"},
        headers={"Authorization": f"Bearer {assertion}"},
    )
    return answer


def _claims(assertion: str) -> dict[str, object]:
    payload = assertion.split(".")[1]
    found: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return found


def test_an_assertion_of_another_issuer_is_refused(
    tmp_path: Path, reference: ReferenceServer, strong_session: tuple[PortalClient, str]
) -> None:
    """The reference server signs ``iss`` with its public URL (``localhost``); a service
    expecting another issuer, with the very same keys, refuses its assertions."""
    settings = _settings(tmp_path, reference, issuer=reference.base)
    portal, token = strong_session
    with TestClient(create_app(settings)) as client:
        refused = _read(client, portal.assertion(token))
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


def test_a_login_older_than_the_endpoint_accepts_gets_a_max_age_challenge(
    tmp_path: Path, reference: ReferenceServer, strong_session: tuple[PortalClient, str]
) -> None:
    settings = _settings(tmp_path, reference, statements_max_age=timedelta(seconds=1))
    portal, token = strong_session
    assertion = portal.assertion(token)
    auth_time = _claims(assertion)["auth_time"]
    assert isinstance(auth_time, int)
    time.sleep(max(0.0, auth_time + 2.5 - time.time()))  # the login is now 2 s old or more
    with TestClient(create_app(settings)) as client:
        refused = _read(client, assertion)
    assert refused.status_code == 401, refused.text
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_user_authentication"')
    assert 'max_age="1"' in challenge
    assert refused.json()["code"] == "insufficient_user_authentication"


def test_an_unreachable_issuer_is_a_503_not_a_500(
    tmp_path: Path, reference: ReferenceServer, strong_session: tuple[PortalClient, str]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/v1/.well-known/jwks.json"
    settings = _settings(tmp_path, reference, jwks_url=closed)
    portal, token = strong_session
    with TestClient(create_app(settings)) as client:
        answer = _read(client, portal.assertion(token))
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["code"] == "issuer_unavailable"


def test_the_jwks_is_cached_and_refetched_for_a_new_kid_at_most_once_per_cooldown(
    reference: ReferenceServer, strong_session: tuple[PortalClient, str]
) -> None:
    portal, token = strong_session
    assertion = portal.assertion(token)
    kid = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=" * 4))["kid"]
    clock = FixedClock(datetime.now(UTC))
    url = f"{reference.base}/api/v1/.well-known/jwks.json"
    cache = JwksCache(url, clock, ttl=timedelta(minutes=5), cooldown=timedelta(seconds=30))
    keys = cache.keys_for(assertion)
    assert kid in {k.kid for k in keys.keys}
    assert cache.keys_for(assertion) is keys
    assert cache.fetches == 1
    rotated = assertion.replace(assertion.split(".")[0], _header("a-next"), 1)
    cache.keys_for(rotated)  # an unknown kid within the cooldown: no new fetch
    assert cache.fetches == 1
    clock.advance(timedelta(seconds=31))
    cache.keys_for(rotated)  # after it: one
    cache.keys_for(rotated)
    assert cache.fetches == 2
    clock.advance(timedelta(minutes=5))
    cache.keys_for(assertion)  # the time to live: one
    assert cache.fetches == 3
    broken = JwksCache(f"{reference.base}/api/v1/nowhere", clock)
    with pytest.raises(JwksUnavailable):
        broken.keys_for(assertion)


def _header(kid: str) -> str:
    header = {"alg": "EdDSA", "kid": kid, "typ": "sbx-assertion+jwt"}
    return base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
