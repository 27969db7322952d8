"""Errors: 4xx pages, problem documents under /api, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.server.conftest import AppMaker


def test_api_errors_are_problem_documents(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    answer = client.get("/api/v1/session")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == "not_authenticated"
    assert body["status"] == 401
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_html_errors_are_pages(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    missing = client.get("/nothing")
    assert missing.status_code == 404
    assert "<main" in missing.text
    assert client.get("/home", follow_redirects=False).headers["location"] == "/login"
    # a flow handle that was never issued: start again, not a 500
    client.cookies.set("sb-flow", "login:123456789:01:forged")
    assert client.get("/login/code").status_code in (401, 409)


def test_health_and_metrics(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}
    client.get("/login")
    # the test client's peer is not an address: refused like an unknown page
    assert client.get("/metrics").status_code == 404
    local = TestClient(client.app, client=("127.0.0.1", 50000))
    assert "securebox_http_requests" in local.get("/metrics").text
