"""The ``ApiCaller`` dependency on a test route: bearer tokens, scopes, expiry, revocation,
and RFC 6750 answers (problem+json with ``WWW-Authenticate``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from securebox_auth.entitlements.model import Operation, Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.identity import ClientId, Siren
from securebox_server.clients.caller import ApiCaller, require_scope
from securebox_server.clients.model import RECEIVER_SCOPES, Caller
from tests.server.clients.helpers import (
    bearer,
    clients_of,
    get_token,
    register_receiver,
    register_sender,
    subscription_with,
)
from tests.server.conftest import AppMaker

router = APIRouter(prefix="/api/v1/test-clients")


@router.get("/whoami")
def whoami(caller: ApiCaller) -> dict[str, Any]:
    return {"client_id": caller.client_id, "sender": caller.sender, "scopes": sorted(caller.scopes)}


@router.post("/publish")
def publish(
    caller: Annotated[Caller, Depends(require_scope("documents:publish"))],
) -> dict[str, str]:
    return {"published_by": caller.sender or ""}


@router.get("/read")
def read(caller: Annotated[Caller, Depends(require_scope("documents:read"))]) -> dict[str, str]:
    return {"read_by": caller.client_id}


def _app(make_app: AppMaker) -> TestClient:
    client, _, _ = make_app()
    client.app.include_router(router)  # type: ignore[attr-defined]
    return client


def test_a_token_reaches_the_route(make_app: AppMaker) -> None:
    client = _app(make_app)
    sender = register_sender(client, "bank")
    answer = client.get("/api/v1/test-clients/whoami", headers=bearer(get_token(client, sender)))
    assert answer.status_code == 200
    assert answer.json() == {
        "client_id": sender.client_id,
        "sender": "bank",
        "scopes": ["documents:publish", "documents:status"],
    }
    assert client.post(
        "/api/v1/test-clients/publish", headers=bearer(get_token(client, sender))
    ).json() == {"published_by": "bank"}


def test_no_token_is_401_without_an_error_code(make_app: AppMaker) -> None:
    client = _app(make_app)
    answer = client.get("/api/v1/test-clients/whoami")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"] == 'Bearer realm="securebox-api"'


def test_an_unknown_token_is_401_invalid_token(make_app: AppMaker) -> None:
    client = _app(make_app)
    for header in ("Bearer sbx_at_nothing", "Bearer x", "Basic abc", "Bearer "):
        answer = client.get("/api/v1/test-clients/whoami", headers={"Authorization": header})
        assert answer.status_code == 401, header
        assert answer.json()["code"] == "invalid_token"
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_a_missing_scope_is_403_insufficient_scope(make_app: AppMaker) -> None:
    client = _app(make_app)
    sender = register_sender(client)
    answer = client.get("/api/v1/test-clients/read", headers=bearer(get_token(client, sender)))
    assert answer.status_code == 403
    assert answer.json()["code"] == "insufficient_scope"
    assert answer.json()["scope"] == "documents:read"
    challenge = answer.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="documents:read"' in challenge


def test_a_narrowed_token_lacks_the_other_scope(make_app: AppMaker) -> None:
    client = _app(make_app)
    sender = register_sender(client)
    token = get_token(client, sender, scope="documents:status")
    answer = client.post("/api/v1/test-clients/publish", headers=bearer(token))
    assert answer.status_code == 403


def test_an_expired_token_is_refused(make_app: AppMaker) -> None:
    client, _, clock = make_app()
    client.app.include_router(router)  # type: ignore[attr-defined]
    sender = register_sender(client)
    token = get_token(client, sender)
    clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    assert client.get("/api/v1/test-clients/whoami", headers=bearer(token)).status_code == 200
    clock.advance(timedelta(seconds=1))
    assert client.get("/api/v1/test-clients/whoami", headers=bearer(token)).status_code == 401


def test_revocation_stops_tokens_at_once(make_app: AppMaker) -> None:
    client = _app(make_app)
    sender = register_sender(client)
    token = get_token(client, sender)
    assert client.get("/api/v1/test-clients/whoami", headers=bearer(token)).status_code == 200
    assert clients_of(client).revoke(sender.client_id)
    answer = client.get("/api/v1/test-clients/whoami", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.json()["code"] == "invalid_token"


def test_a_receiver_reads_with_its_account(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    client.app.include_router(router)  # type: ignore[attr-defined]
    mine, other = Siren("552100554"), Siren("732829320")
    subscription_with(box, [mine, other])
    receiver = register_receiver(client, box, [mine])
    token = get_token(client, receiver)
    answer = client.get("/api/v1/test-clients/read", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.json() == {"read_by": receiver.client_id}
    caller = clients_of(client).authenticate(token, None)
    assert caller.principal == receiver.client.principal
    assert caller.scopes == RECEIVER_SCOPES
    assert caller.principal is not None
    visible = box.entitlements.visible(caller.principal, Operation.VIEW)
    client_id = ClientId("123456789")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert visible.matches(DocumentRef(client_id, mine, Theme("tax"), "d1", "Tax notice", at))
    assert not visible.matches(DocumentRef(client_id, other, Theme("tax"), "d2", "Tax", at))
    publish = client.post("/api/v1/test-clients/publish", headers=bearer(token))
    assert publish.status_code == 403
